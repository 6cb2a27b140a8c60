"""Local diffusers pipelines as image makers: a tiny unconditional pipeline the test saves,
run offline with an empty hub cache and no way out to the network."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from ganprint import GanprintError
from ganprint.data.pipelines import generate_pipeline_images
from tiny_workflow import REPO, TINY, snakemake


@pytest.fixture(scope="module")
def pipeline_folder(tmp_path_factory):
    from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel

    torch.manual_seed(0)
    unet = UNet2DModel(sample_size=16, in_channels=3, out_channels=3, layers_per_block=1, block_out_channels=(8, 16),
                       down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
                       norm_num_groups=8)
    folder = tmp_path_factory.mktemp("pipeline") / "tiny-ddpm"
    DDPMPipeline(unet=unet, scheduler=DDPMScheduler(num_train_timesteps=20)).save_pretrained(folder)
    return folder


def offline_environment(tmp_path) -> dict:
    """The hub offline, an empty cache, and a proxy that refuses every connection."""
    (tmp_path / "empty-cache").mkdir(exist_ok=True)
    refused = "http://127.0.0.1:9"
    return {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "empty-cache"),
            "HTTP_PROXY": refused, "HTTPS_PROXY": refused, "http_proxy": refused, "https_proxy": refused,
            "PYTHONPATH": str(REPO / "workflow")}


def generate(pipeline, output, tmp_path, *options):
    return subprocess.run([sys.executable, "-m", "ganprint", "--quiet", "generate-pipeline", "--pipeline", str(pipeline),
                           "--steps", "3", "--output", str(output), *options],
                          env=offline_environment(tmp_path), capture_output=True, text=True)


def pixels(folder):
    return [np.asarray(Image.open(path)) for path in sorted(folder.glob("*.png"))]


@pytest.mark.slow
def test_each_image_is_its_own_whatever_the_batch_offline(pipeline_folder, tmp_path):
    runs = {name: generate(pipeline_folder, tmp_path / name, tmp_path, "--count", "5", "--seed", seed, "--batch", batch)
            for name, seed, batch in (("a", "1", "2"), ("b", "1", "5"), ("c", "2", "2"))}
    assert all(run.returncode == 0 for run in runs.values()), [run.stderr for run in runs.values()]
    a, b, c = (pixels(tmp_path / name) for name in "abc")
    assert len(a) == 5 and a[0].shape == (16, 16, 3) and a[0].dtype == np.uint8
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not any(np.array_equal(x, y) for x, y in zip(a, c))
    assert not np.array_equal(a[0], a[1])
    assert not list(tmp_path.glob("*.partial"))


def test_prompts_for_an_unconditional_pipeline_and_a_missing_folder_are_named(pipeline_folder, tmp_path):
    with pytest.raises(GanprintError, match="unconditional"):
        generate_pipeline_images(str(pipeline_folder), tmp_path / "out", 2, ["a bedroom"], steps=2)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()
    run = generate(tmp_path / "nowhere", tmp_path / "out", tmp_path, "--count", "2")
    assert run.returncode == 1 and "nowhere is not a saved diffusers pipeline" in run.stderr


@pytest.mark.slow
def test_a_pipeline_folder_source_is_generated_read_and_split_by_the_workflow_offline(pipeline_folder, tmp_path,
                                                                                      monkeypatch):
    for key, value in offline_environment(tmp_path).items():
        monkeypatch.setenv(key, value)
    config = {**{key: value for key, value in TINY.items() if key != "folder_sources"},
              "folder_sources": {"tiny-ddpm": {"pipeline": {"path": str(pipeline_folder), "steps": 3, "batch": 32}}},
              "experiments": {"mine": {"sources": ["real", "tiny-ddpm"]}}, "open_set": {"experiment": "mine"},
              "robustness": {"experiment": "mine"}}
    snakemake(tmp_path, config, "--cores", "1", "results/sources/tiny/tiny-ddpm/train.npy")
    made = sorted((tmp_path / "results/pipelines/tiny-ddpm").glob("*.png"))
    n_images = sum(TINY["split"].values())
    assert len(made) == n_images and made[-1].name == f"{n_images - 1:06d}.png"
    log = (tmp_path / "results/logs/generate_pipeline_source/tiny-ddpm.log").read_text()
    assert "error" not in log.lower()
    assert np.load(tmp_path / "results/sources/tiny/tiny-ddpm/train.npy").shape == (TINY["split"]["n_train"], 16, 16, 3)
    (tmp_path / "elsewhere").mkdir()
    missing = snakemake(tmp_path / "elsewhere", {**config, "folder_sources": {"tiny-ddpm": {"pipeline": {
        "path": str(tmp_path / "nowhere")}}}}, "-n", check=False)
    assert missing.returncode != 0 and "folder_sources.tiny-ddpm.pipeline.path: the saved diffusers pipeline" in (
        missing.stdout + missing.stderr)
