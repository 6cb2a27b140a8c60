import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def package_name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_cluster_environment_names_the_same_packages_as_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    environment = yaml.safe_load((REPO / "envs/ganprint.yaml").read_text())
    pip_section = next(entry["pip"] for entry in environment["dependencies"] if isinstance(entry, dict))
    assert {package_name(r) for r in pip_section} == {package_name(r) for r in project["dependencies"]}
    assert dict(zip(map(package_name, pip_section), pip_section)) == dict(zip(map(package_name, project["dependencies"]), project["dependencies"]))
