"""The rehearsals of the paper configs (workflow/configs/rehearsal.yaml over celeba.yaml and
lsun.yaml) run end to end at 128x128 on data shaped like the paper's, made here: every table
and figure each config declares is written. Minutes each: CI runs them in a step of their
own (`pytest -m rehearsal`); the suite's own run skips them."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ganprint import costs
from ganprint.config_checks import read_config
from paper_shaped_data import celeba_folder, lsun_lmdb
from tiny_workflow import REPO

pytestmark = pytest.mark.rehearsal

DATA = {"celeba": (celeba_folder, "img_align_celeba"), "lsun": (lsun_lmdb, "bedroom_train_lmdb")}


def declared_outputs(configfiles, options, directory) -> list[str]:
    """Every table and figure of the config (the inputs of its `all` rule, reports aside)."""
    jobs = costs.planned_jobs(configfiles, options, workdir=directory, keep_all=True)
    [everything] = [job for job in jobs if job.rule == "all"]
    return [path for path in everything.inputs if path.endswith((".csv", ".png")) and "/report/" not in path]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["celeba", "lsun"])
def test_the_rehearsal_of_a_paper_config_writes_every_table_and_figure_at_128_px(name, tmp_path):
    make, folder = DATA[name]
    data = make(tmp_path / folder, 400)
    configfiles = [str(REPO / f"workflow/configs/{name}.yaml"), str(REPO / "workflow/configs/rehearsal.yaml")]
    options = costs.config_options(costs.config_entries({"datasets": {name: {"path": str(data)}}}))
    outputs = declared_outputs(configfiles, options, tmp_path)
    tables = {Path(path).name for path in outputs if path.endswith(".csv")}
    assert {"table1.csv", "table3.csv", "table4.csv", "table5.csv", "table6.csv", "sanity_check.csv"} <= tables
    assert ({"table2.csv", "table7.csv"} if name == "celeba" else {"table8.csv"}) <= tables
    assert all(path.startswith(f"results/{name}/rehearsal/") for path in outputs)

    run = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--cores", "2",
                          "--configfile", *configfiles, *options], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-5000:]
    missing = [path for path in outputs if not (tmp_path / path).is_file() or (tmp_path / path).stat().st_size == 0]
    assert not missing, f"not written: {missing}"
    n_test = read_config(configfiles)["split"]["n_test"]
    samples = np.load(tmp_path / f"results/{name}/rehearsal/sources/{name}/progan_all_s1/test.npy", mmap_mode="r")
    assert samples.shape == (n_test, 128, 128, 3)
    real = np.load(tmp_path / f"results/{name}/rehearsal/real/{name}/images.npy", mmap_mode="r")
    assert real.shape == (400, 128, 128, 3) and real.std() > 10  # the first 400, cropped and resized, not blank
