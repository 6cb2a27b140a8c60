"""The tiny workflow configuration, how the tests run Snakemake on it, and how they check
the figures it and the stages make."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

TINY = {
    "image_size": 16,
    "datasets": {"tiny": {"source": "embedded", "count": 400, "seed": 0}},
    # images made outside the workflow (write_folder_source), relative to the run's folder
    "folder_sources": {"conv-net": {"path": "folders/conv-net"}},
    "subsets": {"base_size": 200},
    "split": {"n_train": 96, "n_test": 64, "n_val": 128},
    "gan": {
        "threads": 1,
        "progan": {"latent_dim": 16, "fmap_base": 32, "fmap_max": 16, "images_per_phase": 256,
                   "total_images": 1280, "batch_sizes": {4: 32, 8: 32, 16: 32}},
        **{arch: {"latent_dim": 16, "generator_channels": 4, "critic_channels": 4, "batch_size": 16,
                  "critic_steps": 2, "total_images": 640}
           for arch in ("sngan", "cramergan", "mmdgan")},
        "ddpm": {"block_channels": [8, 16], "layers_per_block": 1, "attention_resolutions": [8],
                 "train_timesteps": 100, "sampling_steps": 4, "batch_size": 16, "total_images": 320,
                 "learning_rate": 0.001, "ema_beta": 0.9},
    },
    "attribution": {"fmap_base": 32, "fmap_max": 32, "epochs": 2, "learning_rate": 0.001},
    "baselines": {"linear": {"epochs": 3}, "eigenface": {"n_components": [4, 16]}},
    "artifact_free": {"fraction": 0.25, "uncalibrated_fallback": True},
    "training_length": {"fractions": [0.85]},
    "attacks": {"names": ["combination"], "defense": {"epochs": 1}},
    "visnet": {"epochs": 2, "ema_beta": 0.9},
    "open_set": {"experiment": "table3"},
    "experiments": {
        "table1": {"sources": ["real", "progan_all_s1", "sngan_all_s1", "cramergan_all_s1", "mmdgan_all_s1",
                               "conv-net"]},
        "table2": {"sources": ["real", "progan_diff0_s1", "progan_diff1_s1", "progan_diff200_s1"]},
        "table3": {"sources": ["real", "progan_all_s1", "progan_all_s2"]},
        "sanity_same_seed": {"sources": ["progan_all_s1", "progan_all_s1_run2"]},
        "sanity_noise": {"sources": ["progan_all_s1", "progan_all_s1_noisy2"]},
        "sanity_diff_seed": {"sources": ["progan_all_s1", "progan_all_s2"]},
        "beyond_diffusion": {"sources": ["real", "progan_all_s1", "sngan_all_s1", "ddpm_all_s1", "ddpm_all_s2"]},
        "diffusion_same_seed": {"sources": ["ddpm_all_s1", "ddpm_all_s1_run2"]},
        "diffusion_diff_seed": {"sources": ["ddpm_all_s1", "ddpm_all_s2"]},
    },
}

# TINY's data set and a second one (the paper's CelebA and LSUN: Tables 7 and 8)
TWO_DATASETS = {"tiny": TINY["datasets"]["tiny"], "other": {"source": "embedded", "count": 400, "seed": 1}}


def write_projection_config(directory) -> Path:
    """TINY without its folder source and Table 1, writing under `directory`/results, as
    tiny.yaml: a config whose cost the projections measure in seconds."""
    config = {key: value for key, value in TINY.items() if key != "folder_sources"}
    config["experiments"] = {name: spec for name, spec in TINY["experiments"].items() if name != "table1"}
    config["pathvars"] = {"results": str(Path(directory) / "results")}
    path = Path(directory) / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def write_folder_source(directory, count=288, size=24):
    """The folder source of TINY: PNGs of a fixed random convolutional net (24 px, so that
    they are cropped and resized like any outside images) in `directory`/folders/conv-net."""
    import numpy as np
    import torch
    from PIL import Image

    folder = Path(directory) / "folders/conv-net"
    folder.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(7)
    net = torch.nn.Sequential(torch.nn.ConvTranspose2d(8, 16, 6, 6), torch.nn.ReLU(),
                              torch.nn.ConvTranspose2d(16, 3, 4, 4), torch.nn.Tanh())
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
        images = net(torch.randn(count, 8, 1, 1, generator=generator))
    pixels = ((images.permute(0, 2, 3, 1).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)
    for index, image in enumerate(pixels):
        Image.fromarray(image).save(folder / f"{index:04d}.png")


def make_folder_sources(directory, config: dict) -> None:
    """The folders of the config's folder sources in `directory`, empty where a test has not
    written them (write_folder_source): the workflow refuses a config whose folders are missing."""
    for source in config.get("folder_sources", {}).values():
        for path in [source.get("path", [])] if isinstance(source.get("path"), str) else source.get("path", []):
            (Path(directory) / path).mkdir(parents=True, exist_ok=True)


def workflow_copy(directory: Path, config: dict) -> Path:
    """The repository's workflow in `directory` (as a user's clone), with the config as tiny.yaml."""
    shutil.copytree(REPO, directory, ignore=shutil.ignore_patterns(
        ".git", "results", ".snakemake", "docs", "tests", "__pycache__", "*.egg-info", ".slurm*", ".venv"))
    (directory / "tiny.yaml").write_text(yaml.safe_dump(config))
    make_folder_sources(directory, config)
    return directory


def runtime_python() -> str:
    """The Python of the README's install without the test extras, where CI made one
    (.ci/runtime_env.sh sets GANPRINT_RUNTIME_PYTHON; under CI=true it must), else this one."""
    python = os.environ.get("GANPRINT_RUNTIME_PYTHON")
    if os.environ.get("CI") == "true":
        assert python, "under CI, .ci/run sets GANPRINT_RUNTIME_PYTHON (.ci/runtime_env.sh)"
    return python or sys.executable


def snakemake(directory, config, *arguments, check=True, snakefile=REPO / "Snakefile", python=sys.executable):
    make_folder_sources(directory, config)
    config_path = Path(directory) / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    command = [python, "-m", "snakemake", "-s", str(snakefile), "--directory", str(directory),
               "--configfile", str(config_path), *arguments]
    # an empty torch cache: the Inception row must say its FD ratio was not computed
    environment = {**os.environ, "TORCH_HOME": str(Path(directory) / "torch_home")}
    result = subprocess.run(command, capture_output=True, text=True, env=environment)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed:\n{result.stdout}\n{result.stderr}")
    return result


def planned_jobs(result) -> dict[str, int]:
    stats = result.stdout.split("Job stats:")[1].split("total")[0]
    return {rule: int(count) for rule, count in re.findall(r"^(\w+)\s+(\d+)\s*$", stats, flags=re.M)}


def planned_rules(result) -> set[str]:
    return set(planned_jobs(result))


def assert_figure(path, size: tuple[int, int]):
    """The file is a PNG of `size` (width, height) pixels that shows something: not one flat
    colour, and some coloured pixels (images, curves, maps) among the grey of axes and text."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as image:
        assert (image.format, image.size) == ("PNG", size), (image.format, image.size)
        pixels = np.asarray(image.convert("RGB")).astype(int)
    coloured = (pixels.max(axis=2) - pixels.min(axis=2) > 40).mean()
    assert pixels.std() > 10 and coloured > 0.001, f"{path}: std {pixels.std():.1f}, coloured {coloured:.4f}"


def undocumented_columns(command, columns, sources: list[str]) -> list[str]:
    """The output columns that the details of a user command's help (`ganprint <command>
    --help`) do not name, a column per source named as <prefix><source>."""
    from ganprint import cli

    details = " ".join(cli.command_help(command).details)
    generic = {re.sub(rf"^(\w+_)({'|'.join(sources)})$", r"\1<source>", column) for column in columns}
    return sorted(name for name in generic if not re.search(rf"(?<![\w<>]){re.escape(name)}(?![\w<>])", details))
