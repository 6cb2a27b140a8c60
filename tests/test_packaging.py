import os
import re
import shutil
import subprocess
import tomllib

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

