import sys

import lmdb
import numpy as np
import pytest
from PIL import Image

from ganprint import GanprintError
from ganprint.data.real import prepare_real
from ganprint.data.subsets import real_split, subset_diff


def save(path, array, mode=None):
    image = Image.fromarray(array)
    if mode:
        image = image.convert(mode)
    image.save(path)


def colour(height, width, value):
    """A checkerboard of `value` and `value` + 1: one colour to the eye, but not flat (flat
    images are refused)."""
    checkers = np.indices((height, width)).sum(axis=0) % 2
    return np.repeat((value + checkers)[..., None], 3, axis=2).astype(np.uint8)


def test_embedded_is_deterministic_and_varied(tmp_path):
    prepare_real("embedded", tmp_path / "a.npy", 16, 50, seed=3)
    prepare_real("embedded", tmp_path / "b.npy", 16, 50, seed=3)
    prepare_real("embedded", tmp_path / "c.npy", 16, 50, seed=4)
    a, b, c = (np.load(tmp_path / f"{n}.npy") for n in "abc")
    assert a.shape == (50, 16, 16, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.reshape(50, -1).std(axis=0).mean() > 20  # crops differ from one another


def test_folder_centre_crop_converts_modes(tmp_path, caplog):
    folder = tmp_path / "images"
    folder.mkdir()
    save(folder / "0.png", colour(40, 60, 10))
    save(folder / "1.png", colour(40, 40, 128), mode="L")
    save(folder / "2.png", colour(50, 40, 200), mode="RGBA")
    prepare_real("folder", tmp_path / "out.npy", 32, 3, path=str(folder))
    images = np.load(tmp_path / "out.npy")
    assert images.shape == (3, 32, 32, 3)
    assert abs(images[0].astype(int) - 10).max() <= 2 and abs(images[2].astype(int) - 200).max() <= 2
    assert "converted 1 L-mode images to RGB (grey copied to R, G, B), e.g. " in caplog.text
    assert "converted 1 RGBA-mode images to RGB (composited on white)" in caplog.text and "2.png" in caplog.text


def test_celeba_crop_takes_the_authors_window(tmp_path):
    folder = tmp_path / "celeba"
    folder.mkdir()
    aligned = np.zeros((218, 178, 3), dtype=np.uint8)
    aligned[121 - 64 : 121 + 64, 89 - 64 : 89 + 64] = 255
    save(folder / "000001.png", aligned)
    prepare_real("folder", tmp_path / "out.npy", 128, 1, path=str(folder), crop="celeba")
    assert np.load(tmp_path / "out.npy").min() == 255


@pytest.mark.parametrize("problem, message", [
    ("truncated", "cannot read image"),
    ("empty", "holds no images"),
    ("too_few", "fewer than the 5 requested"),
    ("too_small", "smaller than the 32x32"),
])
def test_folder_errors_name_the_problem_and_leave_nothing(tmp_path, problem, message):
    folder = tmp_path / "images"
    folder.mkdir()
    if problem != "empty":
        save(folder / "a.png", colour(20 if problem == "too_small" else 40, 40, 50))
    if problem == "truncated":
        save(folder / "b.png", colour(40, 40, 60))
        (folder / "b.png").write_bytes((folder / "b.png").read_bytes()[:30])
    count = 5 if problem == "too_few" else 1 + (problem == "truncated")
    with pytest.raises(GanprintError, match=message):
        prepare_real("folder", tmp_path / "out.npy", 32, count, path=str(folder))
    assert not list(tmp_path.glob("*out.npy*"))


def make_lmdb(path, values):
    environment = lmdb.open(str(path), map_size=1 << 24)
    with environment.begin(write=True) as transaction:
        for key, value in values.items():
            transaction.put(key.encode(), value)
    environment.close()


def encoded(array, kind="WEBP"):
    import io

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=kind)
    return buffer.getvalue()


def test_lsun_lmdb_is_read_in_key_order(tmp_path):
    make_lmdb(tmp_path / "db", {f"{i:04x}": encoded(colour(48, 64, 20 * i), "PNG") for i in range(4)})
    prepare_real("lmdb", tmp_path / "out.npy", 16, 3, path=str(tmp_path / "db"))
    images = np.load(tmp_path / "out.npy")
    assert images.shape == (3, 16, 16, 3)
    assert [int(image.mean()) for image in images] == [0, 20, 40]


def test_lmdb_errors(tmp_path):
    make_lmdb(tmp_path / "db", {"k1": b"not an image"})
    with pytest.raises(GanprintError, match=r"db\[k1\]"):
        prepare_real("lmdb", tmp_path / "out.npy", 16, 1, path=str(tmp_path / "db"))
    (tmp_path / "plain").mkdir()
    with pytest.raises(GanprintError, match="not an LMDB"):
        prepare_real("lmdb", tmp_path / "out.npy", 16, 1, path=str(tmp_path / "plain"))
    assert not list(tmp_path.glob("*out.npy*"))


@pytest.mark.parametrize("difference", [0, 1, 7, 40])
def test_subset_diff_has_exactly_i_images_outside_the_base(difference):
    base = subset_diff(100, 50, 0, seed=1)
    subset = subset_diff(100, 50, difference, seed=1)
    assert len(subset) == 50 and len(np.unique(subset)) == 50
    assert len(np.setdiff1d(subset, base)) == difference
    assert np.sum(subset != base) == difference  # the other images keep their training positions


def test_subset_and_split_errors():
    with pytest.raises(GanprintError, match="difference"):
        subset_diff(100, 60, 41, seed=0)
    with pytest.raises(GanprintError, match="base_size"):
        subset_diff(100, 101, 0, seed=0)
    with pytest.raises(GanprintError, match="fewer than"):
        real_split(100, 70, 20, 20, seed=0)
    train, test, val = real_split(100, 60, 20, 10, seed=0)
    assert len(np.union1d(np.union1d(train, test), val)) == 90 and (len(train), len(test), len(val)) == (60, 20, 10)
    assert all(np.array_equal(a, b) for a, b in zip(real_split(100, 60, 20, 20, seed=0), (train, test)))


def test_same_seed_twins_are_the_runs_of_one_trained_instance():
    from ganprint.sources import same_seed_twins

    names = ["real", "gen-a", "progan_all_s1", "progan_all_s1_run2", "progan_all_s2", "progan_all_s2_at0.5",
             "sngan_all_s1", "progan_diff1_s1", "progan_diff1_s1_run3_at0.5", "progan_diff1_s1"]
    assert same_seed_twins(names) == {"progan_all_s1", "progan_all_s1_run2", "progan_diff1_s1", "progan_diff1_s1_run3"}
    assert same_seed_twins(["progan_all_s1", "progan_all_s2", "sngan_all_s1"]) == set()
    # a noise-only twin is not to be bit-identical
    assert same_seed_twins(["progan_all_s1", "progan_all_s1_noisy2"]) == set()


def damaged_lmdb(path, damage):
    """An LMDB of 200 records of random bytes (their values in pages of their own), damaged."""
    rng = np.random.default_rng(0)
    make_lmdb(path, {f"{i:06d}": rng.integers(0, 256, 3000, dtype=np.uint8).tobytes() for i in range(200)})
    data = bytearray((path / "data.mdb").read_bytes())
    if damage == "truncated":  # an interrupted copy
        data = data[: len(data) // 2]
    elif damage == "flipped":  # 200 bytes of an index page: the page after the two meta pages
        data[2 * 4096 + 16 : 2 * 4096 + 216] = bytes(b ^ 0x5A for b in data[2 * 4096 + 16 : 2 * 4096 + 216])
    (path / "data.mdb").write_bytes(bytes(data))


@pytest.mark.parametrize("damage, message", [
    ("truncated", r"db is truncated: its pages need 8\d+ bytes, .*data.mdb has 4\d+; copy it again"),
    ("flipped", r"db is damaged: lmdb.CorruptedError: .*MDB_CORRUPTED.*; copy it again"),
])
def test_a_damaged_lmdb_is_one_named_error_before_anything_is_written(tmp_path, damage, message):
    damaged_lmdb(tmp_path / "db", damage)
    with pytest.raises(GanprintError, match=message):
        prepare_real("lmdb", tmp_path / "out.npy", 16, 100, path=str(tmp_path / "db"))
    assert not list(tmp_path.glob("*out.npy*"))


def test_an_lmdb_whose_index_crashes_its_reader_is_a_named_error(tmp_path, monkeypatch):
    """liblmdb aborts on some damage (an assertion): the walk runs in a process of its own."""
    from ganprint.data import real

    damaged_lmdb(tmp_path / "db", "none")
    monkeypatch.setattr(real, "lmdb_walk_command",
                        lambda path, count: [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGABRT)"])
    with pytest.raises(GanprintError, match=r"db is damaged: reading its index crashed \(SIGABRT\); copy it again"):
        prepare_real("lmdb", tmp_path / "out.npy", 16, 100, path=str(tmp_path / "db"))
