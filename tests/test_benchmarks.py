"""The benchmark scripts that project costs run on the CPU with tiny settings."""

import json
import subprocess
import sys

import pytest
import yaml

from tiny_workflow import REPO, TINY


@pytest.mark.slow
def test_paper_scale_projection_charges_each_planned_job(tmp_path):
    config = {key: value for key, value in TINY.items() if key != "folder_sources"}
    config["experiments"] = {name: spec for name, spec in TINY["experiments"].items() if name != "table1"}
    config["pathvars"] = {"results": str(tmp_path / "results")}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run([sys.executable, "benchmarks/paper_scale.py", "--configfile", str(tmp_path / "tiny.yaml"),
                             "--quick", "--tables", "table3", "table8"],
                            cwd=REPO, capture_output=True, text=True, check=True)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    runs = {line["arch"]: line["hours"] for line in lines if line["stage"] == "gan_run"}
    projections = {line["table"]: line for line in lines if line["stage"] == "projection"}
    assert set(projections) == {"table3"}  # one data set: no Table 8
    table3 = projections["table3"]
    # Table 3 of the tiny config trains two ProGANs (seeds 1 and 2), and the GANs dominate
    assert table3["hours_by_stage"]["GAN training"] == pytest.approx(2 * runs["progan"], rel=1e-3)
    assert table3["dominant"] == "GAN training"
    assert set(table3["hours_by_stage"]) == {"GAN training", "sampling", "attribution networks",
                                             "attribution inference", "PRNU", "kNN"}
    assert table3["jobs_not_charged"]["evaluate_baseline"] == 3  # Eigenface, DCT, Inception
    assert "| table3 |" in result.stdout
