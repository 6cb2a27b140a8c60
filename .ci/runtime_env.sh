#!/usr/bin/env bash
# The README's install without the test extras: a fresh virtual environment in the folder
# given ($1), `pip install -e .` of this checkout into it. Prints the environment's Python,
# which the report test (tests/test_workflow.py) renders the tiny workflow's report with, so
# a runtime dependency that only the test extras bring cannot go unnoticed.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="$1"
python3 -m venv "$venv" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check -e . >&2
echo "$venv/bin/python"
