"""Same bits on every x86-64 processor with AVX2: the kernel libraries pinned to one level
(ganprint.cpu_kernels), and the golden hashes that any such machine reproduces."""

import json
import os
import platform
import subprocess
import sys

import pytest

from ganprint import GanprintError, cpu_kernels
from golden import committed_hashes, committed_versions, golden_hashes, library_versions
from tiny_workflow import REPO, TINY, snakemake

x86_64_with_avx2 = pytest.mark.skipif(
    platform.machine() not in ("x86_64", "AMD64") or "avx2" not in open("/proc/cpuinfo").read(),
    reason="the golden hashes are those of x86-64 processors with AVX2")


def python(code: str, **environment) -> str:
    """`code` run by a fresh Python (its stdout), with `environment` on top of this one's, less
    the variables this process's pinning set."""
    env = {name: value for name, value in os.environ.items()
           if name not in cpu_kernels.variables("avx2") and not name.startswith("GANPRINT_")}
    run = subprocess.run([sys.executable, "-c", code], env={**env, **environment}, capture_output=True, text=True,
                         cwd=REPO / "tests")
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


@x86_64_with_avx2
def test_the_golden_hashes_are_reproduced():
    if library_versions() != committed_versions():
        pytest.skip(f"the golden hashes are those of {committed_versions()}; this is {library_versions()}")
    assert golden_hashes() == committed_hashes()


@x86_64_with_avx2
def test_importing_ganprint_pins_torch_and_numpy_before_they_load():
    report = ("import ganprint, torch, numpy.lib.introspect as i; "
              "print(torch.backends.cpu.get_cpu_capability(), "
              "i.opt_func_info(func_name='^exp$', signature='float32')['exp']['ff']['current'])")
    assert python(report) == "AVX2 X86_V3"
    assert python(report, GANPRINT_CPU_ISA="sse42") == "DEFAULT baseline(X86_V2)"
    assert python(report, GANPRINT_CPU_ISA="native") in ("AVX2 X86_V3", "AVX512 X86_V4")


@pytest.mark.slow
@x86_64_with_avx2
def test_other_kernels_change_the_bits_so_the_golden_check_would_see_them():
    """Kernels narrower than AVX2 stand in for a machine that picks other kernels (an
    AVX-512 one picks wider): the same seed then gives other weights."""
    hashes = json.loads(python("import json, golden; print(json.dumps(golden.golden_hashes()))",
                               GANPRINT_CPU_ISA="sse42"))
    committed = committed_hashes()
    assert hashes["real_images"] == committed["real_images"]
    assert hashes["gan_weights"] != committed["gan_weights"]
    assert hashes["classifier_weights"] != committed["classifier_weights"]


def test_a_child_process_can_choose_another_level(monkeypatch):
    monkeypatch.setenv("GANPRINT_CPU_ISA", "avx2")
    for name, value in cpu_kernels.variables("avx2").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(cpu_kernels.PINNED_BY_GANPRINT, " ".join(cpu_kernels.variables("avx2")))
    monkeypatch.setenv("MKL_VERBOSE", "0")
    assert cpu_kernels.pin("native") == "native"
    assert not set(cpu_kernels.variables("avx2")) & set(os.environ)
    assert os.environ["MKL_VERBOSE"] == "0"
    assert cpu_kernels.pin("avx512") == "avx512" and os.environ["ATEN_CPU_CAPABILITY"] == "avx512"


def test_an_unknown_level_is_an_error_naming_the_variable():
    with pytest.raises(GanprintError, match="GANPRINT_CPU_ISA='sse2'.*avx2, avx512, sse42, native"):
        cpu_kernels.variables("sse2")


def test_the_levels_are_the_settings_choices():
    from ganprint.settings import block_schema

    assert block_schema("cpu_isa")["enum"] == list(cpu_kernels.LEVELS)


@pytest.mark.slow
def test_every_workflow_job_runs_at_the_configured_level(tmp_path):
    snakemake(tmp_path, {**TINY, "cpu_isa": "native"}, "--cores", "1", "results/real/tiny/images.npy")
    log = (tmp_path / "results/logs/prepare_real/tiny.log").read_text()
    assert "CPU kernels: native" in log
