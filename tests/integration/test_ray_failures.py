"""Ray failing under a real server: the embedded head killed mid-run, and a graceful stop while
the embedded head starts. Each test has a server of its own (they take its Ray down)."""

from __future__ import annotations

import json
import signal
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import psutil
import pytest

from sluice.agents.config import AgentsConfig
from sluice.agents.head import head_processes
from sluice.agents.layout import DataLayout
from sluice.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from sluice.control_plane.config import ServerConfig
from sluice.control_plane.jobs.fleet import BINDING_FILE
from sluice.control_plane.jobs.runtime import AGENTS_DIR, sandbox_configs, sandbox_dir
from sluice.jobs.v1 import jobs_pb2, jobs_pb2_grpc, types_pb2
from tests.integration.conftest import (
    RAY_SERVER_START_TIMEOUT_S,
    ServerProcess,
    authed_channel,
    restart_server,
    start_server,
    stop_server,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

State = types_pb2.JobRunState
RUN_TIMEOUT_S = 300.0
TERMINAL = {
    State.JOB_RUN_STATE_SUCCEEDED,
    State.JOB_RUN_STATE_FAILED,
    State.JOB_RUN_STATE_STOPPED,
    State.JOB_RUN_STATE_TIMEOUT,
    State.JOB_RUN_STATE_ERROR,
}
# The first attempt waits to be killed with its head; the retry ends at once.
FIRST_ATTEMPT_HANGS = """
import os, time
if os.environ["SLUICE_ATTEMPT"] == "0":
    print("first attempt", flush=True)
    time.sleep(600)
print("retry ran", flush=True)
"""


def sandboxes_of(server: ServerProcess) -> dict[str, AgentsConfig]:
    return sandbox_configs(ServerConfig(data_dir=server.data_dir, plaintext=True))


def server_head(server: ServerProcess) -> list[psutil.Process]:
    """The processes of the server's embedded Ray heads, one per sandbox (whatever they are
    doing)."""
    return [
        process for config in sandboxes_of(server).values() for process in head_processes(config)
    ]


def bound_sandbox(server: ServerProcess) -> AgentsConfig:
    """The settings of the one sandbox bound to an account (the operator's, in these tests)."""
    (config,) = [
        config
        for sandbox_id, config in sandboxes_of(server).items()
        if (server.data_dir / AGENTS_DIR / sandbox_id / BINDING_FILE).exists()
    ]
    return config


def create_job(jobs: jobs_pb2_grpc.JobServiceStub, script: str, max_retries: int = 0) -> str:
    name = f"job-{uuid.uuid4().hex[:8]}"
    location = jobs.UploadScript(
        jobs_pb2.UploadScriptRequest(name=f"{name}.py", content=script.encode())
    ).script_location
    jobs.CreateJob(
        jobs_pb2.CreateJobRequest(
            name=name,
            role=f"role-{uuid.uuid4().hex[:8]}",
            command=types_pb2.JobCommand(name="glueetl", script_location=location),
            max_retries=max_retries,
        )
    )
    return name


def runs_of(jobs: jobs_pb2_grpc.JobServiceStub, job: str) -> list[types_pb2.JobRun]:
    reply = jobs.GetJobRuns(jobs_pb2.GetJobRunsRequest(job_name=job))
    return sorted(reply.job_runs, key=lambda run: run.attempt)


def logs(jobs: jobs_pb2_grpc.JobServiceStub, job: str, run_id: str) -> list[str]:
    reply = jobs.GetJobRunLogs(
        jobs_pb2.GetJobRunLogsRequest(job_name=job, run_id=run_id, max_results=1000)
    )
    return [entry.message for entry in reply.entries]


class CatalogProbe:
    """Calls the catalog every 0.2 s from a thread and keeps the failures.

    The question is whether the catalog stays up while a Ray head dies, not how fast it answers
    on a loaded machine: a call may take up to 30 s (CI's machine runs this beside the session's
    Ray cluster at loads above 50) before it counts as a failure.
    """

    def __init__(self, address: str) -> None:
        self._address = address
        self._halt = threading.Event()
        self.calls = 0
        self.failures: list[str] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CatalogProbe:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._halt.set()
        self._thread.join()

    def _run(self) -> None:
        with authed_channel(self._address) as channel:
            catalog = catalog_pb2_grpc.CatalogServiceStub(channel)
            while not self._halt.wait(0.2):
                try:
                    catalog.GetDatabases(catalog_pb2.GetDatabasesRequest(), timeout=30)
                    self.calls += 1
                except grpc.RpcError as exc:
                    self.failures.append(f"{exc.code()}: {exc.details()}")


@pytest.fixture
def pooled_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    running = start_server(
        tmp_path_factory.mktemp("ray-fail"),
        "--pool-size",
        "1",
        timeout_s=RAY_SERVER_START_TIMEOUT_S,
    )
    yield running
    stop_server(running.process)


def test_a_killed_head_fails_the_run_which_is_retried_on_a_new_head(
    pooled_server: ServerProcess,
) -> None:
    with authed_channel(pooled_server.address) as channel:
        jobs = jobs_pb2_grpc.JobServiceStub(channel)

        def pool() -> types_pb2.PoolStatus:
            return jobs.GetPoolStatus(jobs_pb2.GetPoolStatusRequest()).pool_status

        wait_until(lambda: pool().warm >= 1, RUN_TIMEOUT_S, "a warm environment")
        job = create_job(jobs, FIRST_ATTEMPT_HANGS, max_retries=1)
        first = jobs.StartJobRun(jobs_pb2.StartJobRunRequest(job_name=job)).job_run_id
        wait_until(lambda: "first attempt" in logs(jobs, job, first), RUN_TIMEOUT_S, "attempt 0")
        # The run's sandbox (the spare its account bound): its head alone is killed.
        sandbox = bound_sandbox(pooled_server)
        record = json.loads(DataLayout(sandbox.data_dir).cluster_file.read_text())
        # The sandbox's user runs its agent too, whose short-lived children may be gone.
        daemons = [process for process in head_processes(sandbox) if _name(process) in DAEMONS]
        assert {process.name() for process in daemons} == {"gcs_server", "raylet"}

        with CatalogProbe(pooled_server.address) as probe:
            for process in daemons:
                process.send_signal(signal.SIGKILL)
            failed = wait_until(
                lambda: (run := runs_of(jobs, job)[0]).job_run_state in TERMINAL and run,
                60,
                "the first attempt to end",
            )
            retry = wait_until(
                lambda: (
                    len(runs := runs_of(jobs, job)) == 2
                    and runs[1].job_run_state in TERMINAL
                    and runs[1]
                ),
                RUN_TIMEOUT_S,
                "the retry to end",
            )
            wait_until(lambda: pool().warm >= 1, RUN_TIMEOUT_S, "the pool to refill")

        assert State.Name(failed.job_run_state) == "JOB_RUN_STATE_FAILED"
        assert "Ray cluster" in failed.error_message and "head died" in failed.error_message
        assert State.Name(retry.job_run_state) == "JOB_RUN_STATE_SUCCEEDED", retry.error_message
        assert retry.previous_run_id == first
        assert "retry ran" in logs(jobs, job, retry.id)
        (bound,) = [s for s in pool().sandboxes if s.account]
        # A new head (its address may be the same: the sandbox's port block pins the GCS port).
        assert bound.ray_address
        again = json.loads(DataLayout(sandbox.data_dir).cluster_file.read_text())
        assert again["started_at"] > record["started_at"], "a new head was started"
        assert probe.calls > 0 and probe.failures == [], probe.failures


def test_sigterm_while_the_head_starts_stops_it_and_the_run_waits(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    server = start_server(tmp_path_factory.mktemp("ray-term"))
    try:
        with authed_channel(server.address) as channel:
            jobs = jobs_pb2_grpc.JobServiceStub(channel)
            job = create_job(jobs, 'print("ran", flush=True)\n')
            run_id = jobs.StartJobRun(jobs_pb2.StartJobRunRequest(job_name=job)).job_run_id
            wait_until(lambda: server_head(server), 120, "the embedded head to be starting")

        assert stop_server(server.process) == 0

        assert server_head(server) == [], "the embedded head outlived the server"
        assert [p for p in psutil.process_iter() if _is_agent_of(p, server.data_dir)] == []
        assert "server stopped" in server.log_text()
        restart_server(server, kill=False)
        with authed_channel(server.address) as channel:
            jobs = jobs_pb2_grpc.JobServiceStub(channel)
            run = jobs.GetJobRun(jobs_pb2.GetJobRunRequest(job_name=job, run_id=run_id)).job_run
            # Nothing of it ran: it was not failed, and it is launched at this start.
            assert State.Name(run.job_run_state) in (
                "JOB_RUN_STATE_STARTING",
                "JOB_RUN_STATE_WAITING",
                "JOB_RUN_STATE_RUNNING",
                "JOB_RUN_STATE_SUCCEEDED",
            ), run.error_message
            ended = wait_until(
                lambda: (
                    (
                        r := jobs.GetJobRun(
                            jobs_pb2.GetJobRunRequest(job_name=job, run_id=run_id)
                        ).job_run
                    ).job_run_state
                    in TERMINAL
                    and r
                ),
                RUN_TIMEOUT_S,
                "the run to end after the restart",
            )
            assert State.Name(ended.job_run_state) == "JOB_RUN_STATE_SUCCEEDED", ended.error_message
            assert ended.attempt == 0
        assert stop_server(server.process) == 0
        assert server_head(server) == [], "the embedded head outlived the server"
    finally:
        if server.process.poll() is None:
            stop_server(server.process)


DAEMONS = ("gcs_server", "raylet")


def _name(process: psutil.Process) -> str:
    try:
        return process.name()
    except psutil.Error:
        return ""


def _is_agent_of(process: psutil.Process, data_dir: Path) -> bool:
    """Whether process is a job agent holding an agent lock of data_dir's server (a sandbox's
    agent keeps its lock in its own dir, under the sandbox dir)."""
    roots = (str(data_dir), str(sandbox_dir(ServerConfig(data_dir=data_dir, plaintext=True))))
    try:
        if "sluice.agents.service" not in " ".join(process.cmdline()):
            return False
        return any(file.path.startswith(roots) for file in process.open_files())
    except psutil.Error:
        return False


def test_a_graceful_stop_keeps_an_executing_run_for_the_next_start(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    server = start_server(tmp_path_factory.mktemp("ray-keep"))
    script = (
        'import time\nprint("before", flush=True)\ntime.sleep(30)\nprint("after", flush=True)\n'
    )
    try:
        with authed_channel(server.address) as channel:
            jobs = jobs_pb2_grpc.JobServiceStub(channel)
            job = create_job(jobs, script)
            run_id = jobs.StartJobRun(jobs_pb2.StartJobRunRequest(job_name=job)).job_run_id
            wait_until(lambda: "before" in logs(jobs, job, run_id), RUN_TIMEOUT_S, "the run")
            environment = runs_of(jobs, job)[0].environment_id

        assert stop_server(server.process) == 0
        assert server_head(server), "the head of an executing run was stopped"

        restart_server(server, kill=False)
        with authed_channel(server.address) as channel:
            jobs = jobs_pb2_grpc.JobServiceStub(channel)
            run = wait_until(
                lambda: (r := runs_of(jobs, job)[0]).job_run_state in TERMINAL and r,
                RUN_TIMEOUT_S,
                "the run to end after the restart",
            )
            assert State.Name(run.job_run_state) == "JOB_RUN_STATE_SUCCEEDED", run.error_message
            assert run.environment_id == environment
            assert logs(jobs, job, run_id) == ["before", "after"]
        assert stop_server(server.process) == 0
        assert server_head(server) == [], "the embedded head outlived the server"
    finally:
        if server.process.poll() is None:
            stop_server(server.process)
