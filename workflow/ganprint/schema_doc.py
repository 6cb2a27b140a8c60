"""docs/configuration.md's key tables, drawn from the config schema: every key with its
default and description, block by block, so that the page cannot drift from the schema.

    python -m ganprint.schema_doc docs/configuration.md           # rewrite the section
    python -m ganprint.schema_doc docs/configuration.md --check   # exit 1 if it differs

The section runs from the line BEGIN to the line END; the page's other text is its own.
"""

import argparse
import sys
from pathlib import Path

import yaml

from .settings import SCHEMA_PATH

BEGIN = "<!-- the key tables below are generated: python -m ganprint.schema_doc docs/configuration.md -->"
END = "<!-- end of the generated key tables -->"
INTRO = "\"Table N\" is the paper's table. `<name>` is a name you choose (a data set's, a folder\nsource's, an experiment's)."


def flow(value) -> str:
    """A default as YAML flow text, in one line."""
    return yaml.safe_dump(value, default_flow_style=True, width=10**6, sort_keys=False).strip().removesuffix("\n...")


def words(text: str | None) -> str:
    return " ".join((text or "").split())


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def is_block(entry: dict) -> bool:
    """A mapping of settings (its own section), as against one setting."""
    values = entry.get("additionalProperties")
    return "properties" in entry or isinstance(values, dict) and values.get("type") == "object"


def key_row(path: str, entry: dict, required: bool) -> str:
    default = ("(required)" if required else "(none)") if "default" not in entry else f"`{flow(entry['default'])}`"
    meaning = words(entry.get("description"))
    if "enum" in entry:
        meaning += " One of " + ", ".join(f"`{flow(value)}`" for value in entry["enum"]) + "."
    return f"| `{path}` | {cell(default)} | {cell(meaning.strip())} |"


def block_sections(path: str, block: dict) -> list[str]:
    """The section of a block (a table of its settings, after its description), then those
    of the blocks inside it."""
    named = isinstance(block.get("additionalProperties"), dict)
    settings = block["additionalProperties"] if named else block
    prefix = f"{path}.<name>" if named else path
    properties = settings.get("properties", {})
    scalars = [(key, entry) for key, entry in properties.items() if not is_block(entry)]
    lines = [f"### `{prefix}`", ""]
    if block.get("description"):
        lines += [words(block["description"]), ""]
    if named and "default" in block and block["default"]:
        lines += [f"Default of `{path}`: `{flow(block['default'])}`.", ""]
    elif named:
        lines += [f"Default of `{path}`: none.", ""]
    if scalars:
        lines += ["| key | default | meaning |", "| --- | --- | --- |"]
        lines += [key_row(f"{prefix}.{key}", entry, key in settings.get("required", [])) for key, entry in scalars]
        lines.append("")
    for key, entry in properties.items():
        if is_block(entry):
            lines += block_sections(f"{prefix}.{key}", entry)
    return lines


def key_tables(schema: dict) -> str:
    """The generated section: the top level's settings, then every block's."""
    properties = schema["properties"]
    lines = [INTRO, "", "### Top level", "", "| key | default | meaning |", "| --- | --- | --- |"]
    lines += [key_row(key, entry, False) for key, entry in properties.items() if not is_block(entry)]
    lines.append("")
    for key, entry in properties.items():
        if is_block(entry):
            lines += block_sections(key, entry)
    return "\n".join(lines).rstrip() + "\n"


def page_with_tables(page: str, schema: dict) -> str:
    if BEGIN not in page or END not in page:
        raise SystemExit(f"the page lacks the lines that bound the generated section:\n{BEGIN}\n{END}")
    head, rest = page.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    return f"{head}{BEGIN}\n{key_tables(schema)}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("page", type=Path, help="the configuration page (docs/configuration.md)")
    parser.add_argument("--check", action="store_true", help="only say whether the page's section is current")
    args = parser.parse_args(argv)
    schema = yaml.safe_load(Path(SCHEMA_PATH).read_text())
    page = args.page.read_text()
    current = page_with_tables(page, schema)
    if args.check:
        if current != page:
            print(f"{args.page}: its key tables differ from the schema; run python -m ganprint.schema_doc {args.page}")
            return 1
        print(f"{args.page}: its key tables are the schema's")
        return 0
    args.page.write_text(current)
    return 0


if __name__ == "__main__":
    sys.exit(main())
