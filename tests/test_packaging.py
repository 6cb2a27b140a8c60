import re
import tomllib

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


def test_jobs_run_the_package_of_their_checkout(tmp_path):
    """Not whichever copy is installed (or is on the PATH of a `--sdm conda` environment):
    a second checkout's jobs import its own package."""
    checkout, run = workflow_copy(tmp_path / "checkout", TINY), tmp_path / "run"
    run.mkdir()
    snakemake(run, TINY, "--cores", "1", "results/real/tiny/images.npy", snakefile=checkout / "Snakefile")
    log = (run / "results/logs/prepare_real/tiny.log").read_text()
    assert f"prepare-real from {checkout}/workflow/ganprint" in log, log
