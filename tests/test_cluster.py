"""Sizing jobs for SLURM, and docs/cluster.md's command on a real SLURM (brought up by
.ci/slurm.sh; without one, those tests skip and say so)."""

import math
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ganprint import GanprintError
from ganprint.cluster import (
    Partition,
    Request,
    chained_retries,
    check_requests,
    gres_gpus,
    job_request,
    job_resources,
    read_partitions,
    time_limit_minutes,
)
from ganprint.settings import block_defaults

from tiny_workflow import REPO, TINY, workflow_copy

CLUSTER = block_defaults("cluster")
OUR_SLURM = Path(os.environ.get("SLURM_RUN_DIR", "/var/spool/ganprint-slurm")) / "slurmctld.pid"


def test_requests_are_capped_and_placed_by_the_settings():
    assert job_resources(CLUSTER, mem_mb=64000, runtime=2880, gpu=True) == {"mem_mb": 64000, "runtime": 2880, "gpu": 1}
    small = {**CLUSTER, "max_mem_mb": 32000, "max_runtime": 1440}
    assert job_resources(small, mem_mb=64000, runtime=2880, gpu=True) == {"mem_mb": 32000, "runtime": 1440, "gpu": 1}
    old = {**CLUSTER, "gpu_request": "gres", "gpu_partition": "gpu", "cpu_partition": "cpu"}
    assert job_resources(old, mem_mb=8000, runtime=60, gpu=True) == {
        "mem_mb": 8000, "runtime": 60, "gres": "gpu:1", "slurm_partition": "gpu"}
    assert job_resources(old, mem_mb=8000, runtime=60) == {"mem_mb": 8000, "runtime": 60, "slurm_partition": "cpu"}
    # one GPU model for every GPU job (the twins' bit-identical weights), none asked of a CPU job
    one_model = {**CLUSTER, "gpu_constraint": "a100"}
    assert job_resources(one_model, mem_mb=8000, runtime=60, gpu=True) == {
        "mem_mb": 8000, "runtime": 60, "gpu": 1, "constraint": "a100"}
    assert "constraint" not in job_resources(one_model, mem_mb=8000, runtime=60)


def test_a_training_longer_than_the_runtime_cap_gets_the_retries_of_its_chain():
    assert chained_retries(CLUSTER, 2880) is None  # no cap: one job, the profile's retries
    assert chained_retries({**CLUSTER, "max_runtime": 2880}, 2880) is None
    assert chained_retries({**CLUSTER, "max_runtime": 1440}, 2880) == 1 + 2
    assert chained_retries({**CLUSTER, "max_runtime": 700, "retries": 0}, 2880) == 4


def test_sinfo_output_is_read_per_partition_with_its_largest_node():
    partitions = read_partitions(
        "gpu*|32|256000|2-00:00:00|gpu:a100:4(S:0-1)\n"
        "gpu*|64|512000|2-00:00:00|gpu:a100:8\n"
        "cpu|128+|1000000|12:00:00|(null)\n"
        "debug|4|8000|30:00|gpu:1,shard:4\n")
    assert partitions["gpu"] == Partition("gpu", 64, 512000, 2880, 8, default=True)
    assert partitions["cpu"] == Partition("cpu", 128, 1000000, 720, 0)
    assert partitions["debug"].minutes == 30 and partitions["debug"].gpus == 1
    assert time_limit_minutes("infinite") == math.inf and time_limit_minutes("1-02:03:00") == 1563
    assert gres_gpus("(null)") == 0 and gres_gpus("gpu:tesla:2,gpu:v100:1") == 3
    assert job_request("train_gan", 4, {"gres": "gpu:1", "mem_mb": 16000, "runtime": 60}) == Request(
        "train_gan", None, 4, 16000, 60, 1)
    assert job_request("table", 1, {"gpu": 1, "slurm_partition": "gpu"}).gpus == 1


def test_requests_that_no_node_holds_are_named_by_rule():
    partitions = read_partitions("main*|16|64000|1-00:00:00|gpu:2\ncpu|8|32000|infinite|(null)\n")
    fitting = [Request("train_gan", None, 4, 16000, 1440, 1), Request("table", "cpu", 1, 8000, 60, 0)]
    check_requests(fitting, partitions)
    oversized = [Request("baselines", None, 1, 128000, 60, 1), Request("baselines", None, 1, 128000, 60, 1),
                 Request("train_gan", None, 4, 16000, 2880, 1), Request("prnu", "cpu", 16, 8000, 60, 0),
                 Request("sample", "cpu", 1, 8000, 60, 1), Request("map", "nowhere", 1, 8000, 60, 0)]
    with pytest.raises(GanprintError) as error:
        check_requests(oversized, partitions)
    message = str(error.value)
    assert message.startswith("5 rule(s) ask for more than the cluster offers; nothing was submitted")
    for expected in ("rule baselines asks for 128000 MB", "cluster.max_mem_mb", "rule train_gan asks for 2880 minutes",
                     "cluster.max_runtime", "rule prnu asks for 16 CPUs", "max-threads", "rule sample asks for 1 GPU",
                     "partition 'nowhere' does not exist"):
        assert expected in message, expected


# --- docs/cluster.md's command on a real SLURM ---------------------------------------

CLUSTER_COMMAND = ["results/table3.csv", "--profile", "workflow/profiles/slurm", "--configfile", "tiny.yaml"]
# The tiny configuration with one baseline and visNet on another experiment: Table 3's GANs,
# classifier and kNN go through SLURM, and the jobs that would add nothing the test checks stay out.
CLUSTER_TINY = {**TINY, "baselines": {**TINY["baselines"], "methods": ["knn"]},
                "visnet": {**TINY["visnet"], "experiment": "table1"}}


def slurm_state() -> str | None:
    """Why there is no usable SLURM here, or None."""
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        return "no SLURM client commands (bring up a single-node SLURM with .ci/slurm.sh up, as CI does)"
    answer = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True)
    if answer.returncode != 0 or "idle" not in answer.stdout.split() and "mix" not in answer.stdout.split():
        return f"SLURM does not answer with an idle node: {answer.stdout.strip() or answer.stderr.strip()}"
    return None


needs_slurm = pytest.mark.skipif(slurm_state() is not None, reason=f"cluster tests skipped: {slurm_state()}")


def run_snakemake(directory: Path, *arguments, timeout=900) -> subprocess.CompletedProcess:
    environment = {**os.environ, "TORCH_HOME": str(directory / "torch_home")}
    return subprocess.run([sys.executable, "-m", "snakemake", *arguments], cwd=directory, capture_output=True,
                          text=True, env=environment, timeout=timeout)


def our_jobs(directory: Path) -> list[dict]:
    """This run's SLURM jobs (running, pending or recently finished) with rule and state."""
    listing = subprocess.run(["squeue", "-h", "-t", "all", "-o", "%i|%T|%k|%b|%Z"], capture_output=True,
                             text=True, check=True).stdout
    jobs = []
    for line in listing.splitlines():
        job_id, state, comment, gres, workdir = line.split("|", 4)
        if Path(workdir).resolve() == directory.resolve():
            jobs.append({"id": job_id, "state": state, "rule": comment, "gres": gres})
    return jobs


def table3_rows(run_directory: Path, methods: list[str]) -> pd.DataFrame:
    """The rows of `methods` in results/table3.csv, with the columns they fill."""
    table = pd.read_csv(run_directory / "results/table3.csv").set_index("method").loc[methods]
    return table.dropna(axis="columns", how="all")


def cancel_first_running(directory: Path, rule: str, run: subprocess.Popen, cancelled: list) -> None:
    """scancel the first job of `rule` seen running in `directory`, while the run lasts."""
    while run.poll() is None and not cancelled:
        running = [job for job in our_jobs(directory) if f"rule_{rule}" in job["rule"] and job["state"] == "RUNNING"]
        if running:
            subprocess.run(["scancel", running[0]["id"]], check=True)
            cancelled.append(running[0]["id"])
        time.sleep(0.5)


def old_scheduler_run(directory: Path) -> dict:
    """The daemons restarted on select/cons_res (which refuses --gpus), one GAN's sampling
    made again there with cluster.gpu_request: gres, and the daemons switched back."""
    script = REPO / ".ci/slurm.sh"
    subprocess.run([str(script), "up"], env={**os.environ, "SELECT_TYPE": "select/cons_res"}, check=True,
                   capture_output=True)
    try:
        (directory / "gres.yaml").write_text(yaml.safe_dump({**CLUSTER_TINY, "cluster": {"gpu_request": "gres"}}))
        result = run_snakemake(directory, "results/sources/tiny/progan_all_s1/test.npy", "--profile",
                               "workflow/profiles/slurm", "--configfile", "gres.yaml", "--forcerun", "sample_gan")
        return {"result": result, "jobs": our_jobs(directory)}
    finally:
        subprocess.run([str(script), "up"], check=True, capture_output=True)


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory, request):
    """Table 3 of CLUSTER_TINY made by docs/cluster.md's command, cancelling the first GAN
    job seen running; then, where the test SLURM is .ci/slurm.sh's, the old-scheduler variant.
    The local run they are compared with (the workflow tests' run) goes on meanwhile, where
    these mostly wait for job states."""
    directory = workflow_copy(tmp_path_factory.mktemp("cluster") / "ganprint", CLUSTER_TINY)
    environment = {**os.environ, "TORCH_HOME": str(directory / "torch_home")}
    run = subprocess.Popen([sys.executable, "-m", "snakemake", *CLUSTER_COMMAND], cwd=directory, env=environment,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    state = {"directory": directory, "cancelled": []}

    def follow():
        state["output"] = run.communicate(timeout=1800)[0]
        state["jobs"] = our_jobs(directory)  # before a restart of the daemons forgets them
        if OUR_SLURM.exists() and run.returncode == 0:
            state["old_scheduler"] = old_scheduler_run(directory)

    threads = [threading.Thread(target=follow),
               threading.Thread(target=cancel_first_running, args=(directory, "train_gan", run, state["cancelled"]))]
    for thread in threads:
        thread.start()
    state["local"] = request.getfixturevalue("finished_run")
    for thread in threads:
        thread.join()
    state["returncode"] = run.returncode
    return state


@pytest.mark.slow
@needs_slurm
def test_the_readme_cluster_command_survives_a_cancelled_gan_job_and_matches_a_local_run(cluster_run):
    assert cluster_run["returncode"] == 0, cluster_run["output"][-4000:]
    assert cluster_run["cancelled"], "no GAN training job was seen running"
    jobs = cluster_run["jobs"]
    assert {job["id"]: job["state"] for job in jobs}[cluster_run["cancelled"][0]] == "CANCELLED"
    assert sum("rule_train_gan" in job["rule"] for job in jobs) == 3  # two GANs, one of them resubmitted
    methods = [*CLUSTER_TINY["baselines"]["methods"], "ours"]
    assert pd.read_csv(cluster_run["directory"] / "results/table3.csv").method.tolist() == methods
    pd.testing.assert_frame_equal(table3_rows(cluster_run["directory"], methods), table3_rows(cluster_run["local"], methods))


@pytest.mark.slow
@needs_slurm
@pytest.mark.skipif(not OUR_SLURM.exists(), reason="only the SLURM of .ci/slurm.sh is switched to select/cons_res")
def test_an_old_scheduler_gets_its_gpus_through_gres(cluster_run):
    """select/cons_res refuses --gpus at submission; cluster.gpu_request: gres asks the old way."""
    result = cluster_run["old_scheduler"]["result"]
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    sampling = [job for job in cluster_run["old_scheduler"]["jobs"] if "rule_sample_gan" in job["rule"]]
    assert len(sampling) == 1 and "gpu" in sampling[0]["gres"]


@pytest.mark.slow
@needs_slurm
def test_a_rule_asking_for_more_than_any_node_has_is_named_before_submission(tmp_path):
    directory = workflow_copy(tmp_path / "ganprint", TINY)
    result = run_snakemake(directory, *CLUSTER_COMMAND, "--set-resources", "evaluate_baseline:mem_mb=10000000")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "rule evaluate_baseline asks for 10000000 MB" in output and "nothing was submitted" in output
    assert our_jobs(directory) == []
