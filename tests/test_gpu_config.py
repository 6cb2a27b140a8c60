"""workflow/configs/gpu.yaml, which only a GPU runs in full: its plan, and the whole config
run on the CPU with every size shrunk (the targets of benchmarks/gpu.sh)."""

import copy
import json
import re

import pandas as pd
import pytest
import yaml

from tiny_workflow import REPO, planned_jobs, snakemake

GPU_CONFIG = REPO / "workflow/configs/gpu.yaml"
DEMO_CONFIG = REPO / "config.yaml"


def gpu_config() -> dict:
    return yaml.safe_load(GPU_CONFIG.read_text())


def gpu_targets() -> list[str]:
    """The targets benchmarks/gpu.sh builds (its `targets=(...)` array)."""
    script = (REPO / "benchmarks/gpu.sh").read_text()
    return re.search(r"^targets=\((.*?)\)", script, re.S | re.M).group(1).split()


def merged(base: dict, change: dict) -> dict:
    result = copy.deepcopy(base)
    for key, value in change.items():
        result[key] = merged(result[key], value) if isinstance(value, dict) and isinstance(result.get(key), dict) else value
    return result


def test_the_gpu_config_trains_a_hundred_times_longer_than_the_demo_and_plans_every_table(tmp_path):
    config, demo = gpu_config(), yaml.safe_load(DEMO_CONFIG.read_text())
    progan = config["gan"]["progan"]
    assert progan["total_images"] >= 2_000_000 and progan["total_images"] >= 100 * demo["gan"]["progan"]["total_images"]
    assert config["split"]["n_train"] > demo["split"]["n_train"]
    fractions = config["training_length"]["fractions"]
    assert 1.0 / min(fractions) >= 100  # the curve spans two orders of magnitude of images shown
    result = snakemake(tmp_path, config, "-n", "-p", *gpu_targets())
    jobs = planned_jobs(result)
    assert jobs["train_gan"] == 8  # 3 ProGAN seeds, the two twins, SNGAN, CramerGAN, MMDGAN
    assert jobs["sample_gan"] == 8 + 3 * len(fractions)
    assert jobs["train_defense"] == 2 and jobs["attack_table"] == 1
    assert {"experiment_table", "training_length_table", "figure_training_length"} <= set(jobs)
    methods = {m for m in re.findall(r"results/gpu/baselines/deadleaves/table3/(\w+)\.json", result.stdout)}
    assert {"knn", "eigenface", "prnu", "dct"} <= methods
    trainings = re.findall(r"ganprint train-gan --arch progan --settings '(\{.*?\})'", result.stdout)
    assert trainings and all(json.loads(t)["total_images"] == progan["total_images"] for t in trainings)
    assert re.search(r"train_gan:\n(?:.*\n)*?\s+resources:.*gpu=1", result.stdout)


# Every size of the config shrunk so that the CPU runs it in a few minutes; its shape (the
# experiments, the attacks, the methods) left as it is, and two of its snapshot fractions
# (still two orders of magnitude below the full run).
SHRUNK = {
    "image_size": 16,
    "datasets": {"deadleaves": {"count": 600}},
    "subsets": {"base_size": 300},
    "split": {"n_train": 96, "n_test": 48, "n_val": 32},
    "gan": {
        "threads": 1,
        "progan": {"latent_dim": 16, "fmap_base": 32, "fmap_max": 16, "images_per_phase": 8, "total_images": 3200,
                   "batch_sizes": {4: 32, 8: 32, 16: 32}},
        **{arch: {"latent_dim": 16, "generator_channels": 4, "critic_channels": 4, "batch_size": 16,
                  "critic_steps": 2, "total_images": 640} for arch in ("sngan", "cramergan", "mmdgan")},
    },
    "sampling": {"batch": 64},
    "attribution": {"fmap_base": 32, "fmap_max": 32, "epochs": 2, "batch_size": 32},
    "baselines": {"linear": {"epochs": 3}, "eigenface": {"n_components": [4, 16]}},
    "attacks": {"defense": {"epochs": 1}},
    "training_length": {"fractions": [0.01, 0.3]},
}


@pytest.mark.slow
def test_the_gpu_config_runs_end_to_end_with_its_sizes_shrunk(tmp_path):
    config = merged(gpu_config(), SHRUNK)
    snakemake(tmp_path, config, "--cores", "2", *gpu_targets())
    for target in gpu_targets():
        assert (tmp_path / target).stat().st_size > 0, target
    curve = pd.read_csv(tmp_path / "results/gpu/training_length.csv")
    assert set(curve["fraction"]) == {*config["training_length"]["fractions"], 1.0}
    assert set(curve["method"]) == {"ours", *config["training_length"]["methods"]}
    assert list(pd.read_csv(tmp_path / "results/gpu/table7.csv")["attack"]) == ["none", "noise", "jpeg"]
