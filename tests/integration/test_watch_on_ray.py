"""`sluice jobs run --wait` of a real run of about 20 s on the session's server (embedded Ray):
it follows the run with WatchJobRun, so the audit trail holds a handful of calls about the run,
not one GetJobRun per poll."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from sluice.audit.v1 import audit_pb2, audit_pb2_grpc
from sluice.audit.v1 import types_pb2 as audit_types
from sluice.jobs.v1 import jobs_pb2, jobs_pb2_grpc, types_pb2
from tests.integration.conftest import OPERATOR_TOKEN, ServerProcess, authed_channel, wait_until
from tests.integration.test_jobs_on_ray import RUN_TIMEOUT_S, wait_warm

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLI = Path(sys.executable).parent / "sluice"
RUN_SECONDS = 20
SLOW = f"""
import time
time.sleep({RUN_SECONDS})
print("slept", flush=True)
"""


@pytest.fixture(scope="module")
def channel(ray_server: ServerProcess) -> Iterator[object]:
    with authed_channel(ray_server.address) as opened:
        yield opened


def test_wait_of_a_20_s_run_makes_a_handful_of_calls(
    channel: object, ray_server: ServerProcess
) -> None:
    jobs = jobs_pb2_grpc.JobServiceStub(channel)  # type: ignore[arg-type]
    audit = audit_pb2_grpc.AuditServiceStub(channel)  # type: ignore[arg-type]
    name = f"slow_{uuid.uuid4().hex[:8]}"
    location = jobs.UploadScript(
        jobs_pb2.UploadScriptRequest(name=f"{name}.py", content=SLOW.encode())
    ).script_location
    jobs.CreateJob(
        jobs_pb2.CreateJobRequest(
            name=name,
            role=f"role-{name}",
            command=types_pb2.JobCommand(name="glueetl", script_location=location),
        )
    )
    wait_warm(jobs)
    since = Timestamp()
    since.FromDatetime(datetime.now(UTC))

    done = subprocess.run(
        [str(CLI), "--server", ray_server.address, "jobs", "run", name, "--wait"],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S + RUN_SECONDS,
        env={**os.environ, "SLUICE_TOKEN": OPERATOR_TOKEN},
    )

    assert done.returncode == 0, done.stderr
    assert "slept" in done.stdout

    def events() -> list[audit_types.AuditEvent]:
        reply = audit.QueryAuditEvents(
            audit_pb2.QueryAuditEventsRequest(
                resource=f"*{name}*", start_time=since, max_results=1000
            )
        )
        return list(reply.events)

    # The audit writer records in the background: wait until the calls' records are in.
    wait_until(
        lambda: {"glue:StartJobRun", "sluice:WatchJobRun"} <= {e.action for e in events()},
        30,
        "the run's audit records",
    )
    records = events()
    [start] = [e for e in records if e.action == "glue:StartJobRun"]
    # The CLI's calls (the run's own launch, execution and end are records of the run too).
    calls = sorted(e.action for e in records if e.principal == start.principal)
    assert calls.count("sluice:WatchJobRun") == 1, calls
    assert "glue:GetJobRun" not in calls, calls
    # StartJobRun, WatchJobRun, and the run's output read once it has ended.
    assert len(calls) <= 4, calls
