"""Isolated Spark environments on a real embedded Ray head, through the RunSupervisor.

One head and one pool of one for the whole session (see conftest); tests run in file order and
share the environments of tuples A and B.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sluice.agents import processes
from sluice.agents.host_info import HostInfo
from sluice.agents.isolation import IsolationTuple
from sluice.agents.layout import DataLayout
from sluice.agents.runs import LogStream, RunProgress, RunRequest, RunState
from sluice.agents.supervisor import RunLaunch, RunSupervisor
from sluice.common.errors import AlreadyExists
from tests.agents import control_plane_child
from tests.agents.helpers import (
    environment_actors,
    live_placement_groups,
    wait_terminal,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

A = IsolationTuple("111111111111", "arn:aws:iam::111111111111:role/etl-a", "subnet-a", "sg-a")
B = IsolationTuple("222222222222", "arn:aws:iam::222222222222:role/etl-b", "subnet-b", "sg-b")
WARM_DEADLINE_S = 300
RUN_DEADLINE_S = 120

DESCRIBE = """
import json, os, sys
from sluice.sdk.args import parse_arguments
print("INFO " + json.dumps({
    "argv": sys.argv[1:],
    "args": parse_arguments(sys.argv[1:]),
    "secrets": {k: v for k, v in os.environ.items() if k.startswith("SL_SECRET")},
    "cwd": os.getcwd(),
    "pid": os.getpid(),
    "app_id": spark.sparkContext.applicationId,
    "total": spark.range(100).selectExpr("sum(id) AS s").collect()[0].s,
}), flush=True)
print("to stderr", file=sys.stderr, flush=True)
spark._jvm.org.apache.log4j.LogManager.getLogger("sluice.test").warn("driver line of the run")
"""


@dataclass(frozen=True)
class Finished:
    launch: RunLaunch
    progress: RunProgress
    info: dict[str, Any]
    host: HostInfo


def run_describe(
    supervisor: RunSupervisor, run_id: str, isolation: IsolationTuple, **request: Any
) -> Finished:
    launch = supervisor.launch(RunRequest(run_id, DESCRIBE, **request), isolation)
    progress = wait_terminal(supervisor, run_id, RUN_DEADLINE_S)
    assert progress.state is RunState.SUCCEEDED, progress.error_message
    stdout = supervisor.read_log(run_id, LogStream.STDOUT).text
    line = next(line for line in stdout.splitlines() if line.startswith("INFO "))
    host = supervisor.environment(launch.environment_id)
    assert host is not None
    return Finished(launch, progress, json.loads(line[len("INFO ") :]), host)


@pytest.fixture(scope="module")
def run_a(supervisor: RunSupervisor) -> Finished:
    wait_until(lambda: supervisor.pool_status().warm >= 1, WARM_DEADLINE_S, what="a warm env")
    return run_describe(
        supervisor, "jr_a1", A, arguments={"--who": "alice"}, run_env={"SL_SECRET_A": "a-secret"}
    )


@pytest.fixture(scope="module")
def run_b(supervisor: RunSupervisor, run_a: Finished) -> Finished:
    # run_a just took the only warm environment; its replacement takes tens of seconds.
    assert supervisor.pool_status().warm == 0
    return run_describe(
        supervisor, "jr_b1", B, arguments={"who": "bob"}, run_env={"SL_SECRET_B": "b-secret"}
    )


def pid_of_host(supervisor: RunSupervisor, environment_id: str) -> int:
    info = supervisor.environment(environment_id)
    assert info is not None
    return info.host_pid


def assert_destroyed(environment_id: str, host_pid: int) -> None:
    wait_until(
        lambda: (
            not any(name.endswith(environment_id) for name in live_placement_groups().values())
            and not environment_actors(environment_id)
            and not (host_pid and processes.process_alive(host_pid))
        ),
        timeout_s=40,
        what=f"environment {environment_id} to be gone",
    )


def test_warm_claim_runs_script_with_its_arguments_and_logs(
    supervisor: RunSupervisor, agents_config, run_a: Finished
) -> None:
    layout = DataLayout(agents_config.data_dir)
    assert run_a.launch.warm
    assert run_a.info["args"] == {"who": "alice"}
    assert run_a.info["secrets"] == {"SL_SECRET_A": "a-secret"}
    assert run_a.info["total"] == 4950
    assert run_a.info["cwd"] == str(layout.run_dir("jr_a1"))
    assert run_a.info["pid"] == run_a.host.host_pid
    assert run_a.info["app_id"] == run_a.host.spark_app_id
    progress = run_a.progress
    assert progress.started_at <= progress.first_line_at <= progress.finished_at
    assert "to stderr" in supervisor.read_log("jr_a1", LogStream.STDERR).text
    assert "driver line of the run" in supervisor.read_log("jr_a1", LogStream.DRIVER).text
    # Output of the environment outside the run stays out of the run's logs.
    assert "INFO " not in supervisor.read_log("jr_a1", LogStream.DRIVER).text
    assert run_a.host.isolation == A


def test_empty_pool_starts_cold_and_tuples_never_share(
    supervisor: RunSupervisor, run_a: Finished, run_b: Finished
) -> None:
    assert not run_b.launch.warm
    a, b = run_a.host, run_b.host
    assert a.environment_id != b.environment_id
    assert a.namespace != b.namespace
    assert a.spark_app_id != b.spark_app_id
    assert a.working_dir != b.working_dir
    assert a.host_pid != b.host_pid and a.driver_pid != b.driver_pid
    assert b.isolation == B
    groups = live_placement_groups().values()
    assert sum(a.environment_id in name for name in groups) == 1
    assert sum(b.environment_id in name for name in groups) == 1
    assert run_b.info["args"] == {"who": "bob"}
    assert run_b.info["secrets"] == {"SL_SECRET_B": "b-secret"}
    assert "alice" not in json.dumps(run_b.info) and "a-secret" not in json.dumps(run_b.info)


def test_same_tuple_reuses_its_environment_with_scoped_arguments(
    supervisor: RunSupervisor, run_a: Finished
) -> None:
    again = run_describe(supervisor, "jr_a2", A, arguments={"who": "carol"})
    assert again.launch.warm
    assert again.launch.environment_id == run_a.launch.environment_id
    assert again.info["args"] == {"who": "carol"}
    assert again.info["secrets"] == {}, "an earlier run's credentials leaked into this run"
    with pytest.raises(AlreadyExists):
        supervisor.launch(RunRequest("jr_a2", "pass"), A)


def test_failing_scripts_fail_with_their_traceback_and_lose_their_environment(
    supervisor: RunSupervisor,
) -> None:
    raising = "import json\n\ndef load():\n    return json.loads('{bad')\n\nload()\n"
    broken = "print('never')\nif True\n    pass\n"
    tuples = [IsolationTuple("333", "role-c"), IsolationTuple("444", "role-d")]
    requests = [RunRequest("jr_raise", raising), RunRequest("jr_syntax", broken)]
    with ThreadPoolExecutor(max_workers=2) as workers:
        launches = list(workers.map(supervisor.launch, requests, tuples))
    pids = {}
    for launch in launches:
        info = supervisor.environment(launch.environment_id)
        if info is not None:
            pids[launch.environment_id] = info.host_pid
    raised = wait_terminal(supervisor, "jr_raise", RUN_DEADLINE_S)
    syntax = wait_terminal(supervisor, "jr_syntax", RUN_DEADLINE_S)

    assert raised.state is RunState.FAILED
    assert raised.error_message.startswith("Traceback (most recent call last):")
    assert 'script.py", line 6, in <module>' in raised.error_message
    assert "line 4, in load" in raised.error_message
    assert "JSONDecodeError" in raised.error_message
    assert "JSONDecodeError" in supervisor.read_log("jr_raise", LogStream.STDERR).text
    assert syntax.state is RunState.FAILED
    assert "SyntaxError" in syntax.error_message and "line 2" in syntax.error_message
    assert "SyntaxError" in supervisor.read_log("jr_syntax", LogStream.STDERR).text
    assert supervisor.read_log("jr_syntax", LogStream.STDOUT).text == ""
    for launch in launches:
        assert_destroyed(launch.environment_id, pids.get(launch.environment_id, 0))


def test_timeout_and_stop_destroy_the_environment(supervisor: RunSupervisor) -> None:
    script = "import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n"
    requests = [RunRequest("jr_timeout", script, timeout_s=3), RunRequest("jr_stopped", script)]
    tuples = [IsolationTuple("555", "role-e"), IsolationTuple("888", "role-h")]

    def launch(request: RunRequest, isolation: IsolationTuple) -> tuple[RunLaunch, int]:
        # The host's pid right away: the 3 s run may be over before the other one starts.
        started = supervisor.launch(request, isolation)
        return started, pid_of_host(supervisor, started.environment_id)

    with ThreadPoolExecutor(max_workers=2) as workers:
        launches, host_pids = zip(*workers.map(launch, requests, tuples), strict=True)
    wait_until(
        lambda: "sleeping" in supervisor.read_log("jr_stopped", LogStream.STDOUT).text,
        30,
        what="the script to start",
    )
    stopped = supervisor.stop("jr_stopped")
    assert stopped.state is RunState.STOPPED
    assert supervisor.progress("jr_stopped") == stopped
    timed_out = wait_terminal(supervisor, "jr_timeout", 30)
    assert timed_out.state is RunState.TIMEOUT
    assert "timeout of 3 s" in timed_out.error_message
    assert timed_out.finished_at - timed_out.started_at < 15
    assert "sleeping" in supervisor.read_log("jr_timeout", LogStream.STDOUT).text
    for launch, host_pid in zip(launches, host_pids, strict=True):
        assert_destroyed(launch.environment_id, host_pid)


def test_host_or_driver_killed_mid_run_fails_within_seconds(supervisor: RunSupervisor) -> None:
    script = "import time\nprint('working', flush=True)\ntime.sleep(600)\n"
    runs = {
        "jr_host_killed": IsolationTuple("666", "role-f"),
        "jr_driver_killed": IsolationTuple("777", "role-g"),
    }
    with ThreadPoolExecutor(max_workers=2) as workers:
        launches = dict(
            zip(
                runs,
                workers.map(lambda r: supervisor.launch(RunRequest(r, script), runs[r]), runs),
                strict=True,
            )
        )
    hosts = {run_id: supervisor.environment(launches[run_id].environment_id) for run_id in runs}
    assert all(hosts.values())
    for run_id in runs:
        wait_until(
            lambda run_id=run_id: "working" in supervisor.read_log(run_id, LogStream.STDOUT).text,
            30,
            what=f"the script of {run_id} to start",
        )
    os.kill(hosts["jr_host_killed"].host_pid, signal.SIGKILL)
    os.kill(hosts["jr_driver_killed"].driver_pid, signal.SIGKILL)
    killed_at = time.time()
    host_killed = wait_terminal(supervisor, "jr_host_killed", 15)
    driver_killed = wait_terminal(supervisor, "jr_driver_killed", 15)
    assert host_killed.state is RunState.FAILED and "died" in host_killed.error_message
    assert driver_killed.state is RunState.FAILED
    assert "Spark driver JVM" in driver_killed.error_message
    for progress in (host_killed, driver_killed):
        assert progress.finished_at - killed_at < 10
    for run_id in runs:
        assert_destroyed(launches[run_id].environment_id, hosts[run_id].host_pid)


def test_executor_killed_mid_run_finishes_or_fails_clearly(
    supervisor: RunSupervisor, run_a: Finished
) -> None:
    script = (
        "import time\n"
        "print('job starting', flush=True)\n"
        "rdd = spark.sparkContext.parallelize(range(8), 8)\n"
        "print('RESULT', sum(rdd.map(lambda x: (time.sleep(2), x)[1]).collect()), flush=True)\n"
    )
    launch = supervisor.launch(RunRequest("jr_executor", script), A)
    environment_id = launch.environment_id
    assert environment_id == run_a.launch.environment_id
    wait_until(
        lambda: "job starting" in supervisor.read_log("jr_executor", LogStream.STDOUT).text,
        30,
        what="the job to start",
    )
    executor = wait_until(
        lambda: processes.environment_actor_pids(environment_id).get("raydp-executor-0"),
        30,
        what="the executor",
    )
    os.kill(executor, signal.SIGKILL)
    progress = wait_terminal(supervisor, "jr_executor", 180)
    print(f"executor killed: run {progress.state.value} {progress.error_message[-300:]}")
    if progress.state is RunState.SUCCEEDED:
        assert "RESULT 28" in supervisor.read_log("jr_executor", LogStream.STDOUT).text
        replacement = processes.environment_actor_pids(environment_id).get("raydp-executor-0")
        assert replacement and replacement != executor
    else:
        assert progress.state is RunState.FAILED
        assert progress.error_message


class _Child:
    """A stand-in control plane process, read line by line with deadlines."""

    def __init__(self, mode: str, data_dir: Path, address: str, token: Path) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                control_plane_child.__name__,
                mode,
                str(data_dir),
                address,
                str(token),
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parents[2],
        )

    def event(self, name: str, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 1.0)
            if not ready:
                continue
            line = self.process.stdout.readline()
            if not line:
                break
            if line.startswith("{") and json.loads(line).get("event") == name:
                return json.loads(line)
        raise AssertionError(f"no {name} event from the {self.process.args[3]} child")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)


def test_restarted_control_plane_reattaches_to_a_running_run(
    supervisor: RunSupervisor, agents_config
) -> None:
    """A control plane SIGKILLed mid-run; its successor finds the run and follows it to the end.

    The stand-ins join the session's cluster with a data dir of their own, so they own (and
    take over) only their environments.
    """
    address = supervisor.cluster.address
    token = DataLayout(agents_config.data_dir).token_file
    data_dir = Path(tempfile.mkdtemp(prefix="slr-", dir="/tmp"))
    first = _Child("launch", data_dir, address, token)
    second = None
    try:
        launched = first.event("launched", timeout_s=WARM_DEADLINE_S)
        assert launched["state"] == "RUNNING"
        first.kill()
        second = _Child("recover", data_dir, address, token)
        recovered = second.event("recovered", timeout_s=120)
        run_id = control_plane_child.RUN_ID
        assert recovered["runs"] == {run_id: "RUNNING"}
        assert launched["environment_id"] in recovered["environments"]
        # The session's own environments are listed, not taken over.
        assert set(recovered["environments"]) - {launched["environment_id"]}
        (DataLayout(data_dir).run_dir(run_id) / "release").touch()
        finished = second.event("finished", timeout_s=60)
        assert finished["state"] == "SUCCEEDED", finished["error"]
        assert second.process.wait(timeout=60) == 0
        assert not any(
            name.endswith(launched["environment_id"]) for name in live_placement_groups().values()
        )
    finally:
        first.kill()
        if second is not None:
            second.kill()
        shutil.rmtree(data_dir, ignore_errors=True)
