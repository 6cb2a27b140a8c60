import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from tiny_workflow import REPO, TINY, snakemake, workflow_copy


def package_name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_cluster_environment_names_the_same_packages_as_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    environment = yaml.safe_load((REPO / "envs/ganprint.yaml").read_text())
    pip_section = next(entry["pip"] for entry in environment["dependencies"] if isinstance(entry, dict))
    assert {package_name(r) for r in pip_section} == {package_name(r) for r in project["dependencies"]}
    assert dict(zip(map(package_name, pip_section), pip_section)) == dict(zip(map(package_name, project["dependencies"]), project["dependencies"]))


@pytest.mark.slow
def test_jobs_run_the_package_of_their_checkout(tmp_path):
    """Not whichever copy is installed (or is on the PATH of a `--sdm conda` environment):
    a second checkout's jobs import its own package."""
    checkout, run = workflow_copy(tmp_path / "checkout", TINY), tmp_path / "run"
    run.mkdir()
    snakemake(run, TINY, "--cores", "1", "results/real/tiny/images.npy", snakefile=checkout / "Snakefile")
    log = (run / "results/logs/prepare_real/tiny.log").read_text()
    assert f"prepare-real from {checkout}/workflow/ganprint" in log, log


def executable(path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/usr/bin/env bash\n{body}\n")
    path.chmod(0o755)


@pytest.mark.parametrize("ci, status, message", [
    ("true", 1, "no SLURM could be brought up (see above), so the cluster tests cannot run; failing"),
    ("", 0, "no SLURM could be brought up; the cluster tests will skip"),
])
def test_ci_without_slurm_fails_under_ci_true_and_warns_elsewhere(tmp_path, ci, status, message):
    """.ci/run in a copy whose SLURM does not come up, with pip and pytest that only say they ran."""
    executable(tmp_path / ".ci/slurm.sh", "exit 1")
    executable(tmp_path / ".ci/runtime_env.sh", "echo /runtime/bin/python")
    shutil.copy(REPO / ".ci/run", tmp_path / ".ci/run")  # with its mode
    executable(tmp_path / "bin/pip", "echo pip ran")
    executable(tmp_path / "bin/pytest", "echo pytest ran")
    environment = {**os.environ, "CI": ci, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    result = subprocess.run([tmp_path / ".ci/run"], env=environment, capture_output=True, text=True)
    assert result.returncode == status and message in result.stderr, result.stderr
    assert ("pytest ran" in result.stdout) == (status == 0)


def test_ci_renders_the_report_with_the_install_without_test_extras(tmp_path):
    """.ci/run installs the README's `pip install -e .` into a fresh environment first and
    hands its Python to the tests, which render the tiny workflow's report with it."""
    shutil.copytree(REPO / ".ci", tmp_path / ".ci")
    executable(tmp_path / ".ci/slurm.sh", "exit 1")
    executable(tmp_path / "bin/pip", 'echo "pip $*"')
    executable(tmp_path / "bin/pytest", 'echo "pytest sees $GANPRINT_RUNTIME_PYTHON"')
    executable(tmp_path / "bin/python3", 'mkdir -p "$3/bin"; printf \'#!/bin/sh\\necho "venv pip $*"\\n\' > "$3/bin/pip"; chmod +x "$3/bin/pip"')
    environment = {**os.environ, "CI": "", "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    result = subprocess.run([tmp_path / ".ci/run"], env=environment, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "venv pip install --quiet --disable-pip-version-check -e ." in result.stderr
    runtime = re.search(r"pytest sees (\S+)", result.stdout)[1]
    assert runtime.endswith("/venv/bin/python") and not os.path.exists(runtime)  # removed on exit
    assert "pip install -e .[test]" in result.stdout


def test_the_python_floor_is_one_in_pyproject_the_environment_and_the_readme():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    environment = yaml.safe_load((REPO / "envs/ganprint.yaml").read_text())
    floor = project["requires-python"].removeprefix(">=")
    assert f"python>={floor}" in environment["dependencies"]
    assert f"Python {floor} or newer" in (REPO / "README.md").read_text()



def test_the_breakages_record_lists_every_breakage_of_the_script_all_caught():
    """tests/breakages.md is the last run of tests/breakages.py over its whole list: rerun it
    after adding a breakage."""
    from breakages import BREAKAGES, REPORT

    record = REPORT.read_text()
    assert re.findall(r"^\| (.+?) \| `", record, flags=re.M) == [breakage.name for breakage in BREAKAGES]
    assert record.rstrip().endswith(f"{len(BREAKAGES)} of {len(BREAKAGES)} caught.")


def requirement_closure(requirements: list[str]) -> set[str]:
    """The distributions that installing `requirements` brings (extras' requirements left out),
    as far as the installed distributions' metadata tells."""
    import importlib.metadata

    wanted, found = [package_name(r) for r in requirements], set()
    while wanted:
        name = wanted.pop()
        if name in found:
            continue
        found.add(name)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        wanted += [package_name(r) for r in requires if "extra ==" not in r.replace('"', "").replace("'", "")]
    return found


def test_what_snakemakes_report_needs_comes_with_ganprints_own_dependencies():
    """The README's `pip install -e .` then `snakemake --report`: the packages that Snakemake's
    report says must be installed (it does not require them itself) come without the test extras."""
    import snakemake

    report_code = "\n".join(path.read_text() for path in (Path(snakemake.__file__).parent / "report").rglob("*.py"))
    needed = {name.lower() for name in re.findall(r"Python package (\w+) must be installed to create reports", report_code)}
    assert "pygments" in needed
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert needed <= requirement_closure(dependencies), needed - requirement_closure(dependencies)


def test_the_error_type_sits_at_the_bottom_of_the_package():
    """ganprint.errors imports nothing of the package, and no module of the package takes
    GanprintError from the package's root (whose import pins the CPU kernels first)."""
    import ast

    package = REPO / "workflow/ganprint"
    assert not [node for node in ast.walk(ast.parse((package / "errors.py").read_text()))
                if isinstance(node, ast.ImportFrom) and node.level > 0]
    upward = []
    for path in package.rglob("*.py"):
        depth = len(path.relative_to(package).parts)  # a module's level-`depth` import is the package root
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == depth and node.module is None:
                if "GanprintError" in {alias.name for alias in node.names}:
                    upward.append(str(path.relative_to(package)))
    assert not upward, upward


# The oldest releases without the advisories that concern ganprint's untrusted inputs:
# torch.load(weights_only=True) bypasses (fixed in 2.6, a later one < 2.10); Pillow's WebP heap
# overflow (10.0.1), ImageMath code execution (10.2.0), buffer overflows (10.3.0, 11.3.0).
ADVISORY_FREE = {"torch": "2.10", "pillow": "11.3"}


@pytest.mark.parametrize("path", ["pyproject.toml", "envs/ganprint.yaml"])
def test_dependency_floors_exclude_releases_with_known_advisories(path):
    from packaging.version import Version

    text = (REPO / path).read_text()
    for package, safe in ADVISORY_FREE.items():
        floor = re.search(rf"^\W*{package}>=([\d.]+)", text, flags=re.M | re.I)
        assert floor and Version(floor[1]) >= Version(safe), (path, package, floor and floor[0])
