"""Where every setting's default lives: the config schema (`config.schema.yaml`, beside this
module). The workflow validates configs against it and fills in its defaults; the package's
settings dataclasses take their field defaults from it (`defaults_from_schema`), and the
command line passes each stage its settings as a JSON object checked against it.

Torch-free: the Snakefile imports it.
"""

import copy
import dataclasses
import functools
import json
from pathlib import Path

import yaml

from .errors import GanprintError

SCHEMA_PATH = Path(__file__).with_name("config.schema.yaml")


@functools.cache
def schema() -> dict:
    return yaml.load(SCHEMA_PATH.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def block_schema(*keys: str) -> dict:
    """The schema of the config block at `keys`, e.g. ("gan", "progan"); "*" stands for any
    name of a mapping such as `datasets`."""
    node = schema()
    for depth, key in enumerate(keys):
        children = node.get("additionalProperties") if key == "*" else node.get("properties", {}).get(key)
        if not isinstance(children, dict):
            raise GanprintError(f"the config schema has no block {'.'.join(keys[: depth + 1])}")
        node = children
    return node


def _filled(node: dict, value):
    """A value with the defaults of its objects' properties filled in, at every depth."""
    if not isinstance(value, dict):
        return value
    filled = dict(value)
    properties, extra = node.get("properties", {}), node.get("additionalProperties")
    for name, child in properties.items():
        if name not in filled and "default" in child:
            filled[name] = copy.deepcopy(child["default"])
        if name in filled:
            filled[name] = _filled(child, filled[name])
    if isinstance(extra, dict):
        filled.update({name: _filled(extra, item) for name, item in filled.items() if name not in properties})
    return filled


def with_defaults(config: dict) -> dict:
    """A whole config with the schema's defaults filled in."""
    return _filled(schema(), config)


def block_defaults(*keys: str) -> dict:
    """Every default of the config block at `keys` (nested blocks filled in)."""
    return _filled(block_schema(*keys), {})


def schema_default(*keys: str):
    """The default of one setting, e.g. ("attribution", "fmap_base") or ("datasets", "*", "crop")."""
    return block_defaults(*keys[:-1])[keys[-1]]


def complete_block(values: dict, *keys: str) -> dict:
    """`values` with the block's defaults filled in, checked against the schema; an error
    names the key."""
    import jsonschema

    node = block_schema(*keys)
    filled = _filled(node, values)
    errors = sorted(jsonschema.Draft202012Validator(node).iter_errors(filled), key=lambda e: list(e.path))
    if errors:
        error = errors[0]
        where = ".".join([*keys, *map(str, error.path)])
        raise GanprintError(f"{where}: {error.message}")
    return filled


def _field_default(value):
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, dict):
        return dataclasses.field(default_factory=functools.partial(copy.deepcopy, value))
    return value


def defaults_from_schema(*keys: str):
    """Class decorator, placed under @dataclass: every field that the config block at `keys`
    defines takes its default from the schema (inherited fields included)."""

    def decorate(cls):
        defaults = block_defaults(*keys)
        annotations = {}
        for klass in reversed(cls.__mro__):
            annotations.update(klass.__dict__.get("__annotations__", {}))
        own = dict(cls.__dict__.get("__annotations__", {}))
        for name, kind in annotations.items():
            if name in defaults:
                own.setdefault(name, kind)
                setattr(cls, name, _field_default(defaults[name]))
        cls.__annotations__ = own
        return cls

    return decorate


def settings_of(cls, values: dict, where: str):
    """An instance of the settings dataclass from those of `values` that are its fields."""
    names = {field.name for field in dataclasses.fields(cls)}
    try:
        return cls(**{key: value for key, value in values.items() if key in names})
    except (TypeError, ValueError) as error:
        raise GanprintError(f"{where}: {error}") from error


def json_object(text: str, option: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise GanprintError(f"{option} is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise GanprintError(f"{option} must be a JSON object, got {text}")
    return value
