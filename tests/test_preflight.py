"""`ganprint preflight` on the rehearsal of the CelebA config: it passes on a CelebA-shaped
folder, and each cause of a failed run is one failing line that names it."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ganprint import costs, preflight
from paper_shaped_data import celeba_folder
from tiny_workflow import REPO

CONFIGS = [str(REPO / "workflow/configs/celeba.yaml"), str(REPO / "workflow/configs/rehearsal.yaml")]


@pytest.fixture(scope="module")
def celeba(tmp_path_factory):
    return celeba_folder(tmp_path_factory.mktemp("data") / "img_align_celeba", 400)


@pytest.fixture(scope="module")
def plan(celeba, tmp_path_factory):
    """The rehearsal's jobs, planned once (a dry run takes seconds) for the tests that change
    no setting that changes them."""
    entries = costs.config_entries({"datasets": {"celeba": {"path": str(celeba)}}})
    return costs.planned_jobs(CONFIGS, costs.config_options(entries), workdir=tmp_path_factory.mktemp("plan"))


@pytest.fixture
def no_weights(tmp_path, monkeypatch):
    """A torch hub cache without the LPIPS and Inception weights."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    assert str(tmp_path) in torch.hub.get_dir()


def findings(overrides, plan, monkeypatch, **options):
    """The preflight of the rehearsal with a site config holding `overrides` (the plan given)."""
    import tempfile

    import yaml

    monkeypatch.setattr(costs, "planned_jobs", lambda *args, **kwargs: plan)
    site = Path(tempfile.mkdtemp(prefix="site-")) / "site.yaml"
    site.write_text(yaml.safe_dump(overrides))
    return preflight.preflight([*CONFIGS, str(site)], determinism=False, **options)


def failed(found):
    return [finding for finding in found if finding.status == "fail"]


def celeba_at(path, **more):
    return {"datasets": {"celeba": {"path": str(path), **more}}}


@pytest.mark.slow
def test_preflight_passes_on_a_prepared_data_set_and_says_what_it_found(celeba, tmp_path, no_weights):
    command = [sys.executable, "-m", "ganprint", "--quiet", "preflight", "--configfile", *CONFIGS,
               "--config", f"datasets={{'celeba': {{'path': '{celeba}'}}}}", f"pathvars={{'results': '{tmp_path}/results'}}"]
    run = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert any(line.startswith("OK") and "datasets.celeba" in line and "400 images" in line and "JPEG 100%" in line
               and "178x218" in line for line in lines), run.stdout
    assert any(line.startswith("OK") and "plans" in line for line in lines)
    assert any(line.startswith("OK") and line.split()[1] == "disk" for line in lines)
    assert lines[-1].startswith("preflight: 0 failed")
    assert len(lines) <= 25  # one screen


@pytest.mark.slow
def test_a_missing_data_folder_is_the_one_failure_the_whole_command_names(tmp_path):
    """No stand-in mocked: the plan is made on an empty stand-in folder, and only the data fails."""
    command = [sys.executable, "-m", "ganprint", "--quiet", "preflight", "--no-determinism", "--configfile", *CONFIGS,
               "--config", f"datasets={{'celeba': {{'path': '{tmp_path}/nowhere'}}}}"]
    run = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    failures = [line for line in run.stdout.splitlines() if line.startswith("FAIL")]
    assert len(failures) == 1 and "datasets.celeba.path" in failures[0], run.stdout
    assert any(line.startswith("OK") and "plans" in line for line in run.stdout.splitlines())


def test_a_missing_data_folder_fails_naming_the_key(tmp_path, plan, monkeypatch):
    found = failed(findings(celeba_at(tmp_path / "nowhere"), plan, monkeypatch))
    assert len(found) == 1 and found[0].check == "data"
    assert "datasets.celeba.path" in found[0].message and "does not exist" in found[0].message


def test_too_few_images_fail_naming_the_folder_and_the_count(tmp_path, plan, monkeypatch):
    small = celeba_folder(tmp_path / "small", 100)
    found = failed(findings(celeba_at(small), plan, monkeypatch))
    assert len(found) == 1 and found[0].check == "data"
    assert str(small) in found[0].message and "holds 100 images, fewer than the 400" in found[0].message


def test_missing_lpips_weights_fail_where_the_run_would_stop(celeba, plan, monkeypatch, no_weights):
    stopping = {**celeba_at(celeba), "artifact_free": {"uncalibrated_fallback": False}}
    found = failed(findings(stopping, plan, monkeypatch))
    assert len(found) == 1 and found[0].check == "weights"
    assert "LPIPS backbone" in found[0].message and "stops at Table 6" in found[0].message
    assert "alexnet-owt-7be5be79.pth" in found[0].fix
    # the rehearsal goes on with a random backbone: a warning
    assert not failed(findings(celeba_at(celeba), plan, monkeypatch))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without a CUDA device")
def test_no_cuda_device_fails_a_gpu_sized_config_on_a_gpu_node_and_warns_elsewhere(celeba):
    from ganprint.config_checks import read_config

    paper = read_config(CONFIGS[:1], celeba_at(celeba))
    assert preflight.sized_for_a_gpu(paper)
    [on_node] = preflight.device_findings(paper, gpu_node=True, determinism=False)
    assert on_node.status == "fail" and "no CUDA device" in on_node.message and "GPU node" in on_node.fix
    [elsewhere] = preflight.device_findings(paper, gpu_node=False, determinism=False)
    assert elsewhere.status == "warn"
    rehearsal = read_config(CONFIGS, celeba_at(celeba))
    assert not preflight.sized_for_a_gpu(rehearsal)
    assert preflight.device_findings(rehearsal, gpu_node=True, determinism=False)[0].status == "warn"


def test_too_little_disk_fails_naming_the_folder_and_the_sizes(celeba, plan, monkeypatch, tmpfs):
    small = tmpfs("results", "1m")
    found = failed(findings({**celeba_at(celeba), "pathvars": {"results": str(small)}}, plan, monkeypatch))
    assert len(found) == 1 and found[0].check == "disk"
    assert "too little disk" in found[0].message and str(small) in found[0].message and "GB free" in found[0].message
    assert "--resources attacks=1" in found[0].fix


def test_the_disk_estimate_counts_every_image_array_the_run_keeps(plan):
    from ganprint.config_checks import read_config

    config = read_config(CONFIGS, {"datasets": {"celeba": {"path": "unused"}}})
    kept, temporary = costs.disk_bytes(plan, config)
    image = 128 * 128 * 3
    n_train, n_test, n_val = (config["split"][key] for key in ("n_train", "n_test", "n_val"))
    per_source = n_train + n_test + n_val
    gans = sum(job.rule == "sample_gan" for job in plan)
    assert gans == 26  # ten seeds, the bit-identical and noise-only twins, eleven subsets, three other GANs
    # the real images, the real split, every GAN's samples, attacked test images, the artifact-free selection
    assert kept == image * (400 + per_source + gans * per_source + 6 * 11 * n_test + 10 * round(0.1 * n_test))
    assert temporary == image * 6 * 11 * n_train  # six attacks' training images of the eleven Table 3 sources


def test_slurm_is_checked_only_with_a_profile(celeba, plan, monkeypatch):
    found = findings(celeba_at(celeba), plan, monkeypatch)
    assert [f.status for f in found if f.check == "slurm"] == ["skip"]


@pytest.mark.slow
def test_the_cost_line_projects_every_table_from_rates_measured_here(tmp_path):
    """On a GPU node the rates are measured there; the same code on this CPU, tiny config."""
    from ganprint.config_checks import read_config
    from tiny_workflow import write_projection_config

    configfile = write_projection_config(tmp_path)
    jobs = costs.planned_jobs([str(configfile)], workdir=tmp_path)
    config = read_config([configfile])
    [line] = preflight.cost_findings(config, jobs, measure=True, quick=True)
    assert line.status == "ok" and "projected on this CPU" in line.message
    assert all(f"table{n} " in line.message for n in (2, 3, 4, 5)) and "GAN training" in line.message
    [skipped] = preflight.cost_findings(config, jobs, measure=False, quick=True)
    assert skipped.status == "skip" and "GPU node" in skipped.fix


def test_the_cost_of_a_classifier_is_its_length_in_images_and_the_defense_its_own_epochs():
    """The paper configs' classifiers show 100M images whatever their training set, visNet 25M;
    the defense fine-tunes for attacks.defense.epochs."""
    from ganprint.config_checks import read_config

    config = read_config([REPO / "workflow/configs/celeba.yaml"])
    rates = costs.Rates(gan_seconds={}, sampling={}, attribution_train=1000.0, attribution_inference=1.0, prnu=1.0,
                        knn_pairs=1.0)
    per_source = config["split"]["n_train"]

    def seconds(rule, **wildcards):
        return costs.job_seconds(costs.Job(rule, wildcards, [], []), config, rates)[1]

    assert seconds("train_attribution", experiment="table1", network="full") == pytest.approx(
        200 * 5 * per_source / 1000)  # 100M images: 200 passes over Table 1's 500k
    assert seconds("train_attribution", experiment="table3", network="full") == pytest.approx(
        91 * 11 * per_source / 1000)
    assert seconds("train_attribution", experiment="table3", network="visnet") == pytest.approx(
        23 * 11 * per_source / 1000)
    assert seconds("train_defense", attack="noise", dataset="celeba") == pytest.approx(
        config["attacks"]["defense"]["epochs"] * 11 * per_source / 1000)


def test_a_named_diffusion_model_is_measured_and_a_rates_file_without_it_leaves_it_uncharged():
    from ganprint.config_checks import read_config

    config = read_config([REPO / "config.yaml"], {"experiments": {"beyond": {"sources": ["real", "ddpm_all_s1"]}}})
    assert costs.planned_architectures(config) == ["progan", "sngan", "cramergan", "mmdgan", "ddpm"]
    tiny = {"resolution": 16, "block_channels": [8, 16], "attention_resolutions": [], "batch_size": 4}
    rate, settings = costs.training_rate("ddpm", tiny, torch.device("cpu"), 1)
    assert rate > 0 and settings.block_channels == (8, 16)
    rates = costs.Rates(gan_seconds={"progan": 7.0}, sampling={"progan": 1.0}, attribution_train=1.0,
                        attribution_inference=1.0, prnu=None, knn_pairs=1.0)
    charged = {instance: costs.job_seconds(costs.Job("train_gan", {"instance": instance}, [], []), config, rates)
               for instance in ("progan_all_s1", "ddpm_all_s1")}
    assert charged == {"progan_all_s1": ("GAN training", 7.0), "ddpm_all_s1": None}


def test_a_pipeline_source_is_checked_for_its_saved_pipeline(tmp_path):
    key = "folder_sources.sd.pipeline"
    absent = preflight.data_finding(key, "pipeline", str(tmp_path / "sd"), 300, "centre", 128)
    assert absent.status == "fail" and f"{key}.path: {tmp_path / 'sd'} holds no saved diffusers pipeline" in absent.message
    (tmp_path / "sd").mkdir()
    (tmp_path / "sd/model_index.json").write_text("{}")
    present = preflight.data_finding(key, "pipeline", str(tmp_path / "sd"), 300, "centre", 128)
    assert present.status == "ok" and "300 images made by the run" in present.message
