"""The benchmark scripts that project costs run on the CPU with tiny settings."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from tiny_workflow import REPO, write_projection_config


@pytest.mark.slow
def test_paper_scale_projection_charges_each_planned_job(tmp_path):
    result = subprocess.run([sys.executable, "benchmarks/paper_scale.py", "--configfile", str(write_projection_config(tmp_path)),
                             "--quick", "--tables", "table3", "table8"],
                            cwd=REPO, capture_output=True, text=True, check=True)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    rates = next(line for line in lines if line["stage"] == "rates")
    projections = {line["table"]: line for line in lines if line["stage"] == "projection"}
    assert set(projections) == {"table3"}  # one data set: no Table 8
    table3 = projections["table3"]
    # Table 3 of the tiny config trains two ProGANs (seeds 1 and 2), and the GANs dominate
    assert table3["hours_by_stage"]["GAN training"] == pytest.approx(2 * rates["gan_seconds"]["progan"] / 3600, rel=1e-3)
    assert table3["dominant"] == "GAN training"
    assert set(table3["hours_by_stage"]) == {"GAN training", "sampling", "attribution networks",
                                             "attribution inference", "PRNU", "kNN"}
    assert table3["jobs_not_charged"]["evaluate_baseline"] == 3  # Eigenface, DCT, Inception
    assert "| table3 |" in result.stdout


def test_paper_scale_projects_from_a_rates_file_without_measuring(tmp_path):
    """The GPU-hour tables of the docs: benchmarks/rates/h100.json through the paper configs."""
    rates = json.loads((REPO / "benchmarks/rates/h100.json").read_text())
    (tmp_path / "rates.json").write_text(json.dumps({**rates, "gan_seconds": {**rates["gan_seconds"], "progan": 3600}}))
    result = subprocess.run([sys.executable, "benchmarks/paper_scale.py", "--configfile", str(write_projection_config(tmp_path)),
                             "--rates", str(tmp_path / "rates.json"), "--tables", "table3"],
                            cwd=REPO, capture_output=True, text=True, check=True)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [line["stage"] for line in lines] == ["device", "rates", "projection"]
    table3 = lines[-1]
    assert table3["hours_by_stage"]["GAN training"] == 2  # seeds 1 and 2, an hour each
    assert "PRNU" not in table3["hours_by_stage"] and table3["jobs_not_charged"]["evaluate_baseline"] == 4


def test_compare_results_names_each_differing_cell_and_skips_tables_the_demo_does_not_make(tmp_path):
    expected, results = tmp_path / "expected", tmp_path / "results"
    for folder in (expected / "attribution/x", results / "attribution/x"):
        folder.mkdir(parents=True)
    (expected / "table3.csv").write_text("dataset,method,accuracy\nd,ours,99.5\n")
    (results / "table3.csv").write_text("dataset,method,accuracy\nd,ours,99.5\n")
    (expected / "attribution/x/correlations.csv").write_text("source,a,b\na,0.1,0.0\n")
    (results / "attribution/x/correlations.csv").write_text("source,a,b\na,0.1,0.2\n")
    (expected / "seed_spread.csv").write_text("table,method,min\ntable3,ours,99.9\n")
    command = [sys.executable, "benchmarks/compare_results.py", "--results", str(results), "--expected", str(expected)]
    run = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 1, run.stdout
    assert "attribution/x/correlations.csv: 1 differences" in run.stdout and "b: 0.0 against 0.2" in run.stdout
    assert "seed_spread.csv: not made" in run.stdout and "1 of 2 tables equal" in run.stdout
    (results / "attribution/x/correlations.csv").write_text("source,a,b\na,0.1,0.0\n")
    assert subprocess.run(command, cwd=REPO, capture_output=True, text=True).returncode == 0


def test_the_demo_results_hold_the_seed_spread_and_figure_7s_correlations():
    """The figures the README and docs/demo.md quote beside the tables have their CSVs."""
    spread = pd.read_csv(REPO / "docs/demo_results/seed_spread.csv")
    assert {"table3", "sanity: same seed"} <= set(spread.table)
    diffusion = pd.read_csv(REPO / "docs/demo_results/seed_spread_diffusion.csv")
    assert {"beyond_diffusion", "diffusion: same seed", "diffusion: different seeds"} == set(diffusion.table)
    assert list(diffusion.columns) == ["table", "method", "1-2-3", "4-5-6", "7-8-9", "min", "max"]
    correlations = pd.read_csv(REPO / "docs/demo_results/attribution/deadleaves/table3/visnet/correlations.csv")
    assert correlations.shape == (4, 5)


def seed_spread_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("seed_spread", REPO / "benchmarks/seed_spread.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_seed_spread_reseeds_every_generator_of_the_tables_it_spreads():
    spread = seed_spread_module()
    config = spread.load_config([REPO / "config.yaml"])
    assert spread.spread_tables(config, None) == ["table3", "sanity_check", "beyond_diffusion", "diffusion_seeds"]
    tables = spread.spread_tables(config, ["beyond_diffusion", "diffusion_seeds"])
    extra = spread.overlay(config, tables, (4, 5, 6), "results/seed_spread/seeds_4_5_6")
    assert extra["experiments"] == {
        "beyond_diffusion": {"sources": ["real", "progan_all_s4", "sngan_all_s4", "ddpm_all_s4", "ddpm_all_s5"]},
        "diffusion_same_seed": {"sources": ["ddpm_all_s4", "ddpm_all_s4_run2"]},
        "diffusion_diff_seed": {"sources": ["ddpm_all_s4", "ddpm_all_s5"]},
    }
    assert extra["pathvars"] == {"results": "results/seed_spread/seeds_4_5_6"}
