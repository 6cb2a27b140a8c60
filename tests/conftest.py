import ganprint  # noqa: F401  (first: it pins the CPU kernels before numpy and torch load)
import subprocess
import types

import numpy as np
import pytest
import torch

from tiny_workflow import TINY, snakemake, write_folder_source


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """The tests on the tiny workflow's run (made once per pytest-xdist worker, minutes: they
    are slow) and on SLURM (whose daemons one of them restarts) share one worker, which starts
    with them (the largest group goes first); the other worker takes the rest meanwhile."""
    rehearsing = "rehearsal" in (items[0].config.getoption("markexpr") if items else "")
    for item in items:
        if item.get_closest_marker("rehearsal") and not rehearsing:
            item.add_marker(pytest.mark.skip(reason="a rehearsal of a paper config: `pytest -m rehearsal` (CI's second step)"))
        if "finished_run" in item.fixturenames:
            item.add_marker(pytest.mark.slow)
        if "finished_run" in item.fixturenames or item.path.name == "test_cluster.py":
            item.add_marker(pytest.mark.xdist_group("tiny_run"))


@pytest.fixture(autouse=True)
def single_thread():
    torch.set_num_threads(1)


@pytest.fixture
def smooth_images():
    """A few hundred 16x16 images of smooth random colour gradients."""
    rng = np.random.default_rng(0)
    ramps = np.linspace(0, 1, 16)
    base = rng.uniform(0, 255, size=(300, 1, 1, 3))
    slope = rng.uniform(-100, 100, size=(300, 1, 1, 3))
    images = base + slope * ramps[None, :, None, None] + slope[..., ::-1] * ramps[None, None, :, None]
    return np.clip(images, 0, 255).astype(np.uint8)


@pytest.fixture
def real_path(tmp_path, smooth_images):
    path = tmp_path / "real.npy"
    np.save(path, smooth_images)
    return path


@pytest.fixture
def kill_on_call(monkeypatch):
    """kill_on_call(owner, name, n): the n-th call of owner.name raises KeyboardInterrupt (a
    kill), the calls before it run; returns a function that puts the original back."""

    def patch(owner, name, n):
        original, calls = getattr(owner, name), {"n": 0}

        def dying(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == n:
                raise KeyboardInterrupt("killed")
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, dying)
        return lambda: monkeypatch.setattr(owner, name, original)

    return patch


@pytest.fixture
def count_calls(monkeypatch):
    """count_calls(owner, name): owner.name runs as before and counts its calls; returns the
    counter, whose .calls is the number so far."""

    def patch(owner, name):
        original, counter = getattr(owner, name), types.SimpleNamespace(calls=0)

        def counting(*args, **kwargs):
            counter.calls += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, counting)
        return counter

    return patch


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory):
    """The whole workflow on the tiny configuration, run once for the workflow and cluster tests."""
    directory = tmp_path_factory.mktemp("run")
    write_folder_source(directory)
    snakemake(directory, TINY, "--cores", "2")
    return directory


@pytest.fixture
def tmpfs(tmp_path):
    """tmpfs(name, size): a small file system of its own (tmpfs, as root) at tmp_path/name,
    unmounted afterwards; the test skips, saying why, where none can be mounted."""
    mounted = []

    def mount(name: str, size: str = "1m"):
        folder = tmp_path / name
        folder.mkdir()
        made = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                              capture_output=True, text=True)
        if made.returncode != 0:
            pytest.skip(f"no file system of its own can be mounted here: {made.stderr.strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in reversed(mounted):
        subprocess.run(["umount", "--lazy", str(folder)], check=True)
