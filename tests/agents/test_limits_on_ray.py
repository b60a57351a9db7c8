"""Attacks on the resource limits of environments, on a real embedded Ray head (slow).

Every process of an environment is in the environment's cgroups; a script that allocates far
more memory than its environment may is killed by the kernel inside them, while another tuple's
environment goes on untouched. Uses the session's head and pool (see conftest).
"""

from __future__ import annotations

import json

import pytest

from sluice.agents import processes
from sluice.agents.isolation import IsolationTuple
from sluice.agents.limits import CgroupV1Limits, limits_for
from sluice.agents.runs import LogStream, RunRequest, RunState
from sluice.agents.supervisor import RunSupervisor
from tests.agents.helpers import wait_terminal, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

VICTIM = IsolationTuple("333333333333", "arn:aws:iam::333333333333:role/victim", "subnet-v")
ATTACKER = IsolationTuple("444444444444", "arn:aws:iam::444444444444:role/hog", "subnet-h")
WARM_DEADLINE_S = 300
RUN_DEADLINE_S = 300

# Starts Python workers on the executor (a Python map), which fork from Spark's daemon.
MEMBERS = """
import json, os, subprocess, sys
workers = spark.sparkContext.parallelize(range(4), 2).map(lambda _: os.getpid()).distinct()
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print("PIDS " + json.dumps({"host": os.getpid(), "workers": workers.collect(), "child": child.pid}),
      flush=True)
"""

VICTIM_JOB = """
total = spark.range(1000000).selectExpr("sum(id) AS s").collect()[0].s
assert total == 499999500000, total
print("victim ok", flush=True)
"""

# Touches every page (a bytearray of zeros would not be resident): {total} bytes in 64 MiB steps.
HOG = """
chunks = []
for _ in range({steps}):
    chunks.append(b"x" * (64 << 20))
print("the hog survived", flush=True)
"""


def _run(supervisor: RunSupervisor, run_id: str, script: str, isolation: IsolationTuple):
    launch = supervisor.launch(RunRequest(run_id, script), isolation)
    return launch, wait_terminal(supervisor, run_id, RUN_DEADLINE_S)


def _cgroups(supervisor: RunSupervisor) -> CgroupV1Limits:
    limits = supervisor.factory.limits
    assert isinstance(limits, CgroupV1Limits), "the embedded head's environments are limited"
    return limits


def test_every_process_of_an_environment_is_in_its_cgroups(supervisor: RunSupervisor) -> None:
    wait_until(lambda: supervisor.pool_status().warm >= 1, WARM_DEADLINE_S, what="a warm env")
    limits = _cgroups(supervisor)
    launch, progress = _run(supervisor, "jr_lim_members", MEMBERS, VICTIM)
    assert progress.state is RunState.SUCCEEDED, progress.error_message
    environment_id = launch.environment_id
    stdout = supervisor.read_log("jr_lim_members", LogStream.STDOUT).text
    seen = json.loads(next(x for x in stdout.splitlines() if x.startswith("PIDS "))[5:])
    inside = limits.pids(environment_id)
    actors = processes.environment_actor_pids(environment_id)
    assert {"host", "RAY_APP_MASTER"} <= set(actors), actors
    assert any(name.startswith("raydp-executor-") for name in actors), actors
    everything = set(processes.environment_pids(environment_id))
    assert everything - inside == set(), "processes of the environment outside its cgroups"
    assert seen["host"] in inside
    assert seen["child"] in inside, "a script's child process escaped the cgroups"
    alive_workers = {pid for pid in seen["workers"] if processes.process_alive(pid)}
    assert alive_workers <= inside, "the executors' Python workers escaped the cgroups"
    host = supervisor.environment(environment_id)
    assert host is not None and host.driver_pid in inside
    wanted = limits_for(host.spec)
    memory, cpu, pids = (limits._group(c, environment_id) for c in ("memory", "cpu", "pids"))
    assert int((memory / "memory.limit_in_bytes").read_text()) == wanted.memory_bytes
    assert int((cpu / "cpu.cfs_quota_us").read_text()) == int(wanted.cpus * 100_000)
    assert int((pids / "pids.max").read_text()) == wanted.pids


def test_a_memory_hog_is_killed_in_its_environment_and_another_tuple_is_untouched(
    supervisor: RunSupervisor,
) -> None:
    limits = _cgroups(supervisor)
    victim, progress = _run(supervisor, "jr_lim_victim1", VICTIM_JOB, VICTIM)
    assert progress.state is RunState.SUCCEEDED, progress.error_message
    victim_host = supervisor.environment(victim.environment_id)
    assert victim_host is not None

    # Twice the limit would be enough on its own; the limit itself keeps the machine safe even
    # where nothing enforces it (the environment's own processes already hold ~1.5 GB).
    limit = limits_for(victim_host.spec).memory_bytes
    hog = HOG.format(steps=limit // (64 << 20), total=limit)
    launch = supervisor.launch(RunRequest("jr_lim_hog", hog), ATTACKER)
    attacker = launch.environment_id
    seen_oom = []

    def ended() -> bool:
        usage = limits.usage(attacker)
        if usage is not None and usage.oom_kills:
            seen_oom.append(usage.oom_kills)
        return supervisor.progress("jr_lim_hog").state.is_terminal()

    wait_until(ended, RUN_DEADLINE_S, interval_s=0.05, what="the hog's run to end")
    progress = supervisor.progress("jr_lim_hog")
    assert progress.state is RunState.FAILED, "the hog outgrew its environment's memory"
    assert seen_oom, "the kernel's OOM killer acted inside the attacker's cgroup"
    assert "the hog survived" not in supervisor.read_log("jr_lim_hog", LogStream.STDOUT).text
    wait_until(
        lambda: attacker not in limits.environment_ids(), 60, what="the hog's cgroups removed"
    )

    victim_usage = limits.usage(victim.environment_id)
    assert victim_usage is not None and victim_usage.oom_kills == 0
    again, progress = _run(supervisor, "jr_lim_victim2", VICTIM_JOB, VICTIM)
    assert progress.state is RunState.SUCCEEDED, progress.error_message
    assert again.environment_id == victim.environment_id
    after = supervisor.environment(victim.environment_id)
    assert after is not None
    assert (after.host_pid, after.driver_pid) == (victim_host.host_pid, victim_host.driver_pid)


def test_a_cpu_hog_and_its_children_are_under_the_cpu_quota(supervisor: RunSupervisor) -> None:
    limits = _cgroups(supervisor)
    script = """
import subprocess, sys, time
hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(3)]
print("HOGS " + " ".join(str(h.pid) for h in hogs), flush=True)
time.sleep(5)
for h in hogs:
    h.kill()
"""
    launch = supervisor.launch(RunRequest("jr_lim_cpu", script), VICTIM)
    hogs = wait_until(
        lambda: [
            int(pid)
            for line in supervisor.read_log("jr_lim_cpu", LogStream.STDOUT).text.splitlines()
            if line.startswith("HOGS ")
            for pid in line.split()[1:]
        ],
        60,
        what="the hogs' pids",
    )
    inside = limits.pids(launch.environment_id)
    assert set(hogs) <= inside, "busy children escaped the environment's CPU quota"
    progress = wait_terminal(supervisor, "jr_lim_cpu", RUN_DEADLINE_S)
    assert progress.state is RunState.SUCCEEDED, progress.error_message
