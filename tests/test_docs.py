"""Every shell command in the README, CONTRIBUTING.md and docs/*.md still works: Snakemake
commands dry-run in a copy of the checkout, `ganprint` and script commands answer --help
and know the options used, pytest commands collect; a command of a kind not known here
fails the tests. The YAML blocks that the commands read (first line `# <name>.yaml`) are
written to those files first, so the configs the docs show are the ones checked. Relative
links and anchors of the docs must exist, and docs/configuration.md must name every key of
the config schema."""

import functools
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tiny_workflow import REPO, TINY, workflow_copy

DOCS = [REPO / "README.md", REPO / "CONTRIBUTING.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)
SHELL = {"bash", "sh", "console"}
# commands that are not checked here (installers, version control, the CI's own scripts)
SKIPPED = {"pip", "git", "apt", "apt-get", "cd", "sbatch", "mamba", "conda", "source"}
OPERATORS = {"&&", "||", ";", "|"}
ENVIRONMENT = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "workflow"), os.environ.get("PYTHONPATH", "")])}


def fenced_blocks(path: Path):
    """(language, first line number, text) of every fenced block, indentation removed."""
    text = path.read_text()
    for match in FENCE.finditer(text):
        indent = len(match["indent"])
        body = "".join(line[indent:] if line[:indent].strip() == "" else line
                       for line in match["body"].splitlines(keepends=True))
        yield match["lang"], text.count("\n", 0, match.start()) + 2, body


def shell_lines(language: str, body: str):
    """(offset, line) of each command line of a block: continuations joined, console prompts
    stripped (a console block's other lines are output)."""
    lines, offset = [], 0
    pending, start = "", 0
    for number, line in enumerate(body.splitlines()):
        if language == "console" and not pending:
            if not line.startswith("$ "):
                continue
            line = line[2:]
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        lines.append((start + offset, pending + line))
        pending = ""
    return lines


def split_commands(line: str) -> list[list[str]]:
    """The simple commands of a shell line, as tokens (comments dropped)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split, lexer.commenters = True, "#"
    commands, current = [], []
    for token in lexer:
        if token in OPERATORS:
            commands.append(current)
            current = []
        else:
            current.append(token)
    return [command for command in [*commands, current] if command]


@functools.cache
def documented_commands() -> list[tuple[str, list[str]]]:
    """(where, tokens) of every command in a shell block of the docs."""
    found = []
    for path in DOCS:
        for language, first_line, body in fenced_blocks(path):
            if language not in SHELL:
                continue
            for offset, line in shell_lines(language, body):
                for tokens in split_commands(line):
                    found.append((f"{path.relative_to(REPO)}:{first_line + offset}", tokens))
    return found


def classify(tokens: list[str]) -> str | None:
    """How a command is checked, or None for a kind this test does not know."""
    program, arguments = tokens[0], tokens[1:]
    if program == "python" and arguments[:2] == ["-m", "ganprint"] or program == "ganprint":
        return "ganprint"
    if program == "python" and arguments[:2] == ["-m", "pytest"] or program == "pytest":
        return "pytest"
    if program == "python" and arguments[:2] == ["-m", "snakemake"] or program == "snakemake":
        return "snakemake"
    if program == "python" and arguments and arguments[0].endswith(".py"):
        return "script"
    if program == "bash" and arguments and arguments[0].endswith(".sh") or program.startswith((".ci/", "./")):
        return "file"
    if program in SKIPPED or program in ("python", "python3") and arguments[:2] == ["-m", "venv"]:
        return "skipped"
    return None


def commands_of(kind: str):
    return [pytest.param(where, tokens, id=where) for where, tokens in documented_commands() if classify(tokens) == kind]


def after(tokens: list[str], program: str) -> list[str]:
    """The arguments of `program` (given directly or as python -m)."""
    return tokens[tokens.index(program) + 1:]


def used_options(arguments: list[str]) -> set[str]:
    return {argument.split("=")[0] for argument in arguments if argument.startswith("--")}


def help_options(help_text: str) -> set[str]:
    return set(re.findall(r"--[\w-]+", help_text))


# --- the commands found, and their kinds (fast) -------------------------------------------


def test_every_command_in_the_docs_is_of_a_known_kind():
    unknown = [f"{where}: {shlex.join(tokens)}" for where, tokens in documented_commands() if classify(tokens) is None]
    assert not unknown, "commands of a kind tests/test_docs.py does not check:\n" + "\n".join(unknown)


def test_a_command_of_an_unknown_kind_is_not_let_through():
    assert classify(["frobnicate", "--cores", "2"]) is None
    assert classify(["python", "-c", "print(1)"]) is None
    assert [classify(tokens) for tokens in split_commands("pip install -e . && snakemake --cores 2")] == ["skipped", "snakemake"]


def test_the_commands_ci_relies_on_are_in_the_readme_as_they_are_run():
    """.ci/run runs the README's test command, then its rehearsal command; the demo command is
    the README's first one."""
    readme = [shlex.join(tokens) for where, tokens in documented_commands() if where.startswith("README.md")]
    blocks = [body.strip() for language, _, body in fenced_blocks(REPO / "README.md") if language in SHELL]
    assert "pip install -e . && snakemake --cores 2" in blocks
    assert "pip install -e '.[test]' && pytest" in blocks
    ci_commands = [line for line in (REPO / ".ci/run").read_text().strip().splitlines()[-3:] if not line.startswith("#")]
    assert ci_commands == ["pip install -e '.[test]' && pytest", "pytest -m rehearsal"]
    assert {"snakemake --cores 2", "pytest", "pytest -m 'not slow'", "pytest -m rehearsal"} <= set(readme)


def test_the_docs_have_commands_of_every_kind_checked_here():
    kinds = {classify(tokens) for _, tokens in documented_commands()}
    assert {"snakemake", "ganprint", "pytest", "script", "skipped"} <= kinds


# --- ganprint, scripts and files (fast) ---------------------------------------------------


@pytest.mark.parametrize("where, tokens", commands_of("ganprint"))
def test_ganprint_commands_exist_with_their_options(where, tokens):
    arguments = after(tokens, "ganprint")
    command = [sys.executable, "-m", "ganprint", *([arguments[0]] if arguments and not arguments[0].startswith("-") else [])]
    result = subprocess.run([*command, "--help"], capture_output=True, text=True, env=ENVIRONMENT, cwd=REPO)
    assert result.returncode == 0, result.stderr
    missing = used_options(arguments[1:]) - help_options(result.stdout)
    assert not missing, f"{shlex.join(tokens)}: {sorted(missing)} not in `{shlex.join(command[2:])} --help`"


@pytest.mark.parametrize("where, tokens", commands_of("script"))
def test_python_scripts_exist_with_their_options(where, tokens):
    script = REPO / tokens[1]
    assert script.is_file(), f"{tokens[1]} does not exist"
    compile(script.read_text(), str(script), "exec")
    if "argparse" in script.read_text():  # a script without options runs its whole work: not run here
        result = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True,
                                env=ENVIRONMENT, cwd=REPO, timeout=120)
        assert result.returncode == 0, result.stderr
        missing = used_options(tokens[2:]) - help_options(result.stdout)
        assert not missing, f"{shlex.join(tokens)}: {sorted(missing)} not in its --help"


@pytest.mark.parametrize("where, tokens", commands_of("file"))
def test_shell_scripts_named_in_the_docs_exist(where, tokens):
    script = REPO / (tokens[1] if tokens[0] == "bash" else tokens[0])
    assert script.is_file(), f"{script.relative_to(REPO)} does not exist"
    assert tokens[0] == "bash" or os.access(script, os.X_OK), f"{script.relative_to(REPO)} is not executable"


# --- pytest commands (slow: each collects the suite) ------------------------------------------


@functools.cache
def collected(arguments: tuple[str, ...]) -> subprocess.CompletedProcess:
    """What pytest collects with these arguments (a command shown on two pages runs once)."""
    return subprocess.run([sys.executable, "-m", "pytest", *arguments, "--collect-only", "-q", "-n", "0",
                           "-p", "no:cacheprovider"], capture_output=True, text=True, env=ENVIRONMENT, cwd=REPO,
                          timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize("where, tokens", commands_of("pytest"))
def test_pytest_commands_collect_tests(where, tokens):
    result = collected(tuple(after(tokens, "pytest")))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"^\d+(/\d+)? tests? collected", result.stdout, re.M), result.stdout[-2000:]


# --- snakemake commands: dry runs in a copy of the checkout (slow) ------------------------------


def tagged_yaml_files(doc: Path) -> dict[str, str]:
    """The YAML blocks of a page that start with `# <name>.yaml`, by file name."""
    files = {}
    for language, _, body in fenced_blocks(doc):
        first = body.splitlines()[0] if body.strip() else ""
        match = re.match(r"#\s*([\w.-]+\.ya?ml)\b", first)
        if language in ("yaml", "yml") and match:
            files[match[1]] = body
    return files


def merged(old: dict, new: dict) -> dict:
    """Snakemake's merge of config files: mappings key by key, everything else replaced."""
    result = dict(old)
    for key, value in new.items():
        result[key] = merged(result[key], value) if isinstance(value, dict) and isinstance(result.get(key), dict) else value
    return result


def config_files(arguments: list[str]) -> list[str]:
    """The --configfile paths of a Snakemake command line (config.yaml without one)."""
    if "--configfile" not in arguments:
        return ["config.yaml"]
    paths = []
    for argument in arguments[arguments.index("--configfile") + 1:]:
        if argument.startswith("-"):
            break
        paths.append(argument)
    return paths


def data_paths(directory: Path, arguments: list[str]) -> dict[str, str]:
    """The data the command's config reads, path -> kind (folder, lmdb)."""
    config = {}
    for name in config_files(arguments):
        config = merged(config, yaml.safe_load((directory / name).read_text()) or {})
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    datasets = config.get("datasets") or schema["properties"]["datasets"]["default"]
    paths = {spec["path"]: spec["source"] for spec in datasets.values() if spec.get("source") in ("folder", "lmdb")}
    for spec in (config.get("folder_sources") or {}).values():
        for path in [spec["path"]] if isinstance(spec["path"], str) else spec["path"]:
            paths[path] = "folder"
    return paths


def write_placeholder(path: Path, kind: str):
    """One image where the config expects data, so that a dry run does not stop at it."""
    import io

    from PIL import Image

    png = io.BytesIO()
    Image.new("RGB", (8, 8), (90, 120, 150)).save(png, format="PNG")
    path.mkdir(parents=True, exist_ok=True)
    if kind == "lmdb":
        import lmdb

        with lmdb.open(str(path), map_size=1 << 22) as environment, environment.begin(write=True) as transaction:
            transaction.put(b"0", png.getvalue())
    elif not any(path.iterdir()):
        (path / "0.png").write_bytes(png.getvalue())


DRY_RUNS = {}  # (arguments, configs written) -> output: a command shown on two pages runs once


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A copy of the checkout (as a user's clone) that the dry runs share."""
    return workflow_copy(tmp_path_factory.mktemp("docs") / "checkout", TINY)


@pytest.mark.slow
@pytest.mark.parametrize("where, tokens", commands_of("snakemake"))
def test_snakemake_commands_dry_run(where, tokens, checkout):
    doc = REPO / where.split(":")[0]
    for stale in checkout.glob("docs_*.written"):  # configs written for another page
        (checkout / stale.read_text()).unlink(missing_ok=True)
        stale.unlink()
    for name, text in tagged_yaml_files(doc).items():
        (checkout / name).write_text(text)
        (checkout / f"docs_{name}.written").write_text(name)
    arguments = after(tokens, "snakemake")
    if "--report" in arguments:  # a report needs a finished run: check the run's plan instead
        position = arguments.index("--report")
        arguments = arguments[:position] + arguments[position + 2:]
    data = data_paths(checkout, arguments)
    for path, kind in data.items():
        if not Path(path).is_absolute():
            write_placeholder(checkout / path, kind)
    key = (tuple(arguments), tuple(sorted(tagged_yaml_files(doc).items())))
    if key not in DRY_RUNS:
        DRY_RUNS[key] = subprocess.run([sys.executable, "-m", "snakemake", "-n", *arguments], capture_output=True,
                                       text=True, cwd=checkout, timeout=600,
                                       env={**ENVIRONMENT, "TORCH_HOME": str(checkout / "torch_home")})
    result = DRY_RUNS[key]
    output = result.stdout + result.stderr
    if result.returncode != 0:
        # data the test cannot have (an absolute path of the user's): only that error is allowed
        absent = [path for path in data if Path(path).is_absolute() and not Path(path).exists()]
        assert any(path in output for path in absent), f"{shlex.join(tokens)} fails its dry run:\n{output[-4000:]}"
    else:
        assert "This was a dry-run" in output or "Nothing to be done" in output, output[-2000:]


# --- links and the config reference (fast) ------------------------------------------------


def heading_anchors(path: Path) -> set[str]:
    """GitHub's anchors of a page's headings."""
    text = FENCE.sub("", path.read_text())
    anchors, seen = set(), {}
    for heading in re.findall(r"^#{1,6}\s+(.*?)\s*#*\s*$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower().replace("`", "")).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def test_relative_links_and_anchors_of_the_docs_exist():
    broken = []
    for doc in DOCS:
        text = FENCE.sub("", doc.read_text())
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            path = (doc.parent / file).resolve() if file else doc
            if not path.exists():
                broken.append(f"{doc.relative_to(REPO)}: {target} (no such file)")
            elif anchor and path.suffix == ".md" and anchor not in heading_anchors(path):
                broken.append(f"{doc.relative_to(REPO)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def schema_keys(node: dict, prefix: str = "") -> list[str]:
    """Every key path of the config schema, `<name>` standing for a name the user chooses."""
    keys = []
    for key, value in (node.get("properties") or {}).items():
        if not isinstance(value, dict) or not ({"type", "enum", "oneOf"} & set(value)):
            continue  # not a setting (a stray key of a flow mapping)
        path = f"{prefix}{key}"
        keys.append(path)
        keys += schema_keys(value, f"{path}.")
        if isinstance(value.get("additionalProperties"), dict):
            keys += schema_keys(value["additionalProperties"], f"{path}.<name>.")
    return keys


def test_the_configuration_page_names_every_config_key():
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    page = (REPO / "docs/configuration.md").read_text()
    missing = [key for key in schema_keys(schema) if f"`{key}`" not in page]
    assert not missing, f"docs/configuration.md does not describe {missing}"


def test_the_configuration_page_key_tables_are_the_schemas():
    """Every default and description of docs/configuration.md as the schema has it."""
    from ganprint import schema_doc

    assert schema_doc.main([str(REPO / "docs/configuration.md"), "--check"]) == 0, \
        "run python -m ganprint.schema_doc docs/configuration.md"
