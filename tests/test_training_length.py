"""Attribution against GAN training length: snapshots, their names, the table; and the
procedural dead-leaves images of the embedded default."""

import numpy as np
import pytest
import torch

from ganprint import GanprintError
from ganprint.data.procedural import render_dead_leaves, write_dead_leaves
from ganprint.gans import ARCHITECTURES
from ganprint.gans.sampling import load_generator, sample_gan
from ganprint.gans.training import train_gan
from ganprint.sources import parse_instance, sampling_seed, snapshot_experiment, snapshot_source, split_snapshot_experiment
from ganprint.storage import load_checkpoint, save_json
from ganprint.tables import write_length_table

from test_progan import TINY as TINY_PROGAN  # grown to 16x16 after 256 of its 448 images


@pytest.mark.slow
def test_snapshots_are_the_generator_at_that_point_of_the_run(tmp_path, real_path):
    train_gan("progan", TINY_PROGAN, real_path, tmp_path / "whole.pt", seed=3, threads=1, snapshots=[0.75])
    shorter = {**TINY_PROGAN, "total_images": 336}  # 0.75 of the run, same schedule up to there
    train_gan("progan", shorter, real_path, tmp_path / "short.pt", seed=3, threads=1)
    snapshot = load_checkpoint(tmp_path / "whole.pt")["snapshots"]["0.75"]
    assert snapshot["images_shown"] == 336
    short = load_checkpoint(tmp_path / "short.pt")["generator"]
    assert all(torch.equal(snapshot["generator"][k], short[k]) for k in short)
    final = load_checkpoint(tmp_path / "whole.pt")["generator"]
    assert not all(torch.equal(snapshot["generator"][k], final[k]) for k in final)


@pytest.mark.slow
def test_snapshots_survive_a_resume(tmp_path, real_path, kill_on_call, count_calls):
    trainer_class = ARCHITECTURES["progan"][1]
    steps = count_calls(trainer_class, "step")
    train_gan("progan", TINY_PROGAN, real_path, tmp_path / "whole.pt", seed=4, threads=1, snapshots=[0.75])
    whole_run_steps = steps.calls
    # killed after the snapshot (336 images = step 21 at 16 per step) and the checkpoint at step 24 (384 images)
    restore = kill_on_call(trainer_class, "step", 25)
    with pytest.raises(KeyboardInterrupt):
        train_gan("progan", TINY_PROGAN, real_path, tmp_path / "resumed.pt", seed=4, threads=1,
                  checkpoint_every=32, snapshots=[0.75])
    restore()
    steps = count_calls(trainer_class, "step")
    train_gan("progan", TINY_PROGAN, real_path, tmp_path / "resumed.pt", seed=4, threads=1,
              checkpoint_every=32, snapshots=[0.75])
    assert steps.calls == whole_run_steps - 24  # the snapshot comes from the resumed state, not a rerun
    whole, resumed = (load_checkpoint(tmp_path / f"{n}.pt")["snapshots"]["0.75"]["generator"] for n in ("whole", "resumed"))
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)


def test_a_snapshot_before_the_generator_has_grown_is_refused(tmp_path, real_path):
    with pytest.raises(GanprintError, match="before the generator has grown to 16px"):
        train_gan("progan", TINY_PROGAN, real_path, tmp_path / "g.pt", seed=0, threads=1, snapshots=[0.25])


@pytest.mark.slow
def test_sampling_a_snapshot_uses_the_final_runs_latents(tmp_path, real_path):
    train_gan("progan", TINY_PROGAN, real_path, tmp_path / "g.pt", seed=0, threads=1, snapshots=[0.75])
    for name, snapshot in (("final", None), ("early", "0.75")):
        sample_gan(str(tmp_path / "g.pt"), {str(tmp_path / f"{name}_train.npy"): 8, str(tmp_path / f"{name}_test.npy"): 4},
                   seed=11, snapshot=snapshot)
    assert not np.array_equal(np.load(tmp_path / "final_train.npy"), np.load(tmp_path / "early_train.npy"))
    with pytest.raises(GanprintError, match="no snapshot at 0.5"):
        load_generator(str(tmp_path / "g.pt"), "cpu", "0.5")
    assert sampling_seed("progan_all_s1_at0.75", 0) == sampling_seed("progan_all_s1", 0)


def test_snapshot_names():
    instance = parse_instance("progan_diff10_s2_run2_at0.25")
    assert (instance.base, instance.snapshot, instance.seed, instance.run) == ("progan_diff10_s2_run2", "0.25", 2, 2)
    assert parse_instance("progan_all_s1").snapshot is None
    assert snapshot_source("real", 0.5) == "real" and snapshot_source("sngan_all_s3", 0.5) == "sngan_all_s3_at0.5"
    assert split_snapshot_experiment(snapshot_experiment("table3", 0.125)) == ("table3", 0.125)
    assert split_snapshot_experiment("table3") == ("table3", 1.0)


def test_length_table_orders_fractions_and_counts_images(tmp_path):
    paths = []
    for experiment, accuracy in (("table3", 99.0), ("table3_at0.25", 90.0), ("table3_at0.5", 95.0)):
        for method in ("knn", "ours"):
            path = tmp_path / f"{experiment}_{method}.json"
            save_json(path, {"dataset": "d", "experiment": experiment, "method": method, "accuracy": accuracy,
                             "balanced_accuracy": accuracy, "fd_ratio": None, "n_classes": 3, "n_test_per_class": 10,
                             "sources": ["real", "a", "b"], "per_class_accuracy": {}})
            paths.append(str(path))
    table = write_length_table(paths, str(tmp_path / "length.csv"), images_per_run=40000)
    ours = table[table.method == "ours"]
    assert ours.fraction.tolist() == [0.25, 0.5, 1.0]
    assert ours.images_shown.tolist() == [10000, 20000, 40000]
    assert ours.accuracy.tolist() == [90.0, 95.0, 99.0]


def test_dead_leaves_are_deterministic_varied_and_flat_on_average(tmp_path):
    write_dead_leaves(tmp_path / "a.npy", 16, 300, seed=1)
    write_dead_leaves(tmp_path / "b.npy", 16, 300, seed=1)
    write_dead_leaves(tmp_path / "c.npy", 16, 300, seed=2)
    a = np.load(tmp_path / "a.npy")
    assert a.shape == (300, 16, 16, 3) and a.dtype == np.uint8
    assert np.array_equal(a, np.load(tmp_path / "b.npy")) and not np.array_equal(a, np.load(tmp_path / "c.npy"))
    # every pixel varies strongly across images, while the mean image is nearly flat
    assert a.std(axis=0).min() > 50
    mean_image = a.mean(axis=0)
    assert mean_image.std() < 0.1 * a.std()


def test_dead_leaves_have_sharp_edges_and_large_flat_regions():
    images = render_dead_leaves(np.random.default_rng(0), 50, 32, discs=60, min_radius=0.03, max_radius=0.5)
    steps = np.abs(np.diff(images.astype(int), axis=2)).max(axis=3)
    assert (steps == 0).mean() > 0.5  # inside a disc neighbours are equal
    assert (steps > 60).mean() > 0.02  # and discs meet at edges
