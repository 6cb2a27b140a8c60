import subprocess
import sys

import numpy as np


def ganprint(*arguments):
    return subprocess.run([sys.executable, "-m", "ganprint", *map(str, arguments)], capture_output=True, text=True)


def assert_clear_error(result, status, *phrases):
    """The command failed with `status` (1: bad input, 2: bad usage) and said so in `phrases`,
    without a traceback."""
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert all(phrase in result.stderr for phrase in phrases), result.stderr


def test_bad_input_is_a_clear_error_with_nothing_written(tmp_path):
    (tmp_path / "empty").mkdir()
    result = ganprint("prepare-real", "--source", "folder", "--path", tmp_path / "empty", "--size", 16,
                      "--count", 4, "--output", tmp_path / "out.npy")
    assert_clear_error(result, 1, "empty holds no images")
    assert not list(tmp_path.glob("*out*"))


def test_negative_counts_and_unknown_gans_are_rejected(tmp_path):
    result = ganprint("prepare-real", "--source", "embedded", "--size", 16, "--count", -3, "--output", tmp_path / "o.npy")
    assert_clear_error(result, 2, "--count", "positive")
    np.save(tmp_path / "real.npy", np.zeros((8, 8, 8, 3), np.uint8))
    result = ganprint("train-gan", "--arch", "biggan", "--images", tmp_path / "real.npy", "--seed", 1, "--output", tmp_path / "g.pt")
    assert_clear_error(result, 1, "unknown GAN architecture 'biggan'")


def test_missing_or_malformed_arrays_are_named(tmp_path):
    np.save(tmp_path / "grey.npy", np.zeros((8, 8, 8), np.uint8))
    result = ganprint("split-real", "--images", tmp_path / "grey.npy", "--n-train", 2, "--n-test", 2, "--n-val", 2,
                      "--train-output", tmp_path / "a.npy", "--test-output", tmp_path / "b.npy",
                      "--val-output", tmp_path / "c.npy")
    assert_clear_error(result, 1, "grey.npy holds uint8 (8, 8, 8)")
    result = ganprint("sample-gan", "--checkpoint", tmp_path / "none.pt", "--n-train", 2, "--n-test", 2, "--n-val", 2,
                      "--seed", 0, "--train-output", tmp_path / "a.npy", "--test-output", tmp_path / "b.npy",
                      "--val-output", tmp_path / "c.npy")
    assert_clear_error(result, 1, "checkpoint not found", "none.pt")
