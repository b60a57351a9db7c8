"""Jobs through a real server: who may pass which role to a job's runs (sluice:PassRole), and
where a job's script may come from (--script-root), without Ray (no run here gets to execute).

The server's script root is its base directory, which holds its data dir: files there are
never scripts even so, and the operator's token appears in no error.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from sluice.audit.v1 import audit_pb2, audit_pb2_grpc
from sluice.audit.v1 import types_pb2 as audit_types
from sluice.iam.v1 import iam_pb2, iam_pb2_grpc
from sluice.iam.v1 import types_pb2 as iam_types
from sluice.jobs.v1 import jobs_pb2, jobs_pb2_grpc
from sluice.jobs.v1 import types_pb2 as jobs_types
from tests.integration.conftest import (
    OPERATOR_TOKEN,
    ServerProcess,
    authed_channel,
    start_server,
    stop_server,
)

pytestmark = pytest.mark.integration

WAIT_S = 30.0
UPLOADED = "sluice://scripts/etl.py"
# What the developer may do: make, change and start jobs, nothing about roles.
JOBS_ONLY = iam_types.Statement(
    effect=iam_types.EFFECT_ALLOW,
    actions=["glue:CreateJob", "glue:UpdateJob", "glue:StartJobRun", "sluice:UploadScript"],
    resources=["*"],
)


@dataclass
class Site:
    server: ServerProcess
    root: Path
    operator: grpc.Channel


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    base = tmp_path_factory.mktemp("job-security")
    root = base / "scripts"
    root.mkdir()
    # The root is the base: it holds the data dir (base/data) too.
    server = start_server(base, "--script-root", str(base))
    try:
        with authed_channel(server.address) as operator:
            yield Site(server, root, operator)
    finally:
        stop_server(server.process)


@dataclass
class Account:
    """A fresh account with a developer allowed JOBS_ONLY and an operator principal of its own
    (jobs calls act in the caller's account)."""

    id: str
    dev: jobs_pb2_grpc.JobServiceStub
    op: jobs_pb2_grpc.JobServiceStub
    iam: iam_pb2_grpc.IamServiceStub

    def grant(self, *statements: iam_types.Statement, name: str = "") -> None:
        """Attach a policy to the developer's role (replacing the policy called name)."""
        self.iam.PutPolicy(
            iam_pb2.PutPolicyRequest(
                account=self.id,
                name=name or f"p-{uuid.uuid4().hex[:8]}",
                roles=["dev"],
                statements=list(statements),
            )
        )


@pytest.fixture
def account(site: Site) -> Iterator[Account]:
    account_id = str(uuid.uuid4().int)[:12]
    iam = iam_pb2_grpc.IamServiceStub(site.operator)
    tokens = []
    for name, roles, operator in (("dev", ["dev"], False), ("op", ["admin"], True)):
        iam.CreatePrincipal(
            iam_pb2.CreatePrincipalRequest(
                account=account_id, name=name, roles=roles, operator=operator
            )
        )
        request = iam_pb2.CreateTokenRequest(account=account_id, principal_name=name)
        tokens.append(iam.CreateToken(request).token)
    with (
        authed_channel(site.server.address, tokens[0]) as dev,
        authed_channel(site.server.address, tokens[1]) as op,
    ):
        result = Account(
            account_id, jobs_pb2_grpc.JobServiceStub(dev), jobs_pb2_grpc.JobServiceStub(op), iam
        )
        result.grant(JOBS_ONLY)
        upload = jobs_pb2.UploadScriptRequest(name="etl.py", content=b"print(1)\n")
        result.dev.UploadScript(upload)
        yield result


def pass_role(*roles: str) -> iam_types.Statement:
    return iam_types.Statement(
        effect=iam_types.EFFECT_ALLOW,
        actions=["sluice:PassRole"],
        resources=[f"role/{role}" for role in roles],
    )


def command(location: str) -> jobs_types.JobCommand:
    return jobs_types.JobCommand(name="glueetl", script_location=location)


def create(
    jobs: jobs_pb2_grpc.JobServiceStub, name: str, role: str, location: str = UPLOADED
) -> Any:
    request = jobs_pb2.CreateJobRequest(name=name, role=role, command=command(location))
    return jobs.CreateJob(request)


def update(
    jobs: jobs_pb2_grpc.JobServiceStub, name: str, role: str, location: str = UPLOADED
) -> Any:
    job_update = jobs_types.JobUpdate(role=role, command=command(location))
    return jobs.UpdateJob(jobs_pb2.UpdateJobRequest(job_name=name, job_update=job_update))


def start(jobs: jobs_pb2_grpc.JobServiceStub, name: str) -> str:
    return str(jobs.StartJobRun(jobs_pb2.StartJobRunRequest(job_name=name)).job_run_id)


def refused(call: Callable[[], object], code: grpc.StatusCode, reason: str) -> str:
    """The message of the error call fails with, after checking its status and Glue name."""
    with pytest.raises(grpc.RpcError) as caught:
        call()
    error: Any = caught.value
    assert error.code() == code, error
    status = rpc_status.from_call(error)
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert info.reason == reason
    details = str(error.details() or "")
    assert OPERATOR_TOKEN not in details
    return details


def denied(call: Callable[[], object]) -> str:
    return refused(call, grpc.StatusCode.PERMISSION_DENIED, "AccessDeniedException")


def invalid(call: Callable[[], object]) -> str:
    return refused(call, grpc.StatusCode.INVALID_ARGUMENT, "InvalidInputException")


def wait_failed(jobs: jobs_pb2_grpc.JobServiceStub, name: str, run_id: str) -> Any:
    """The run once FAILED; it must not get to execute (no Ray in this server)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        run = jobs.GetJobRun(jobs_pb2.GetJobRunRequest(job_name=name, run_id=run_id)).job_run
        if run.job_run_state == jobs_types.JOB_RUN_STATE_FAILED:
            return run
        assert run.job_run_state == jobs_types.JOB_RUN_STATE_STARTING, run
        assert time.monotonic() < deadline, f"run {run_id} did not fail in {WAIT_S}s: {run}"
        time.sleep(0.05)


# PassRole


def test_creating_jobs_does_not_let_a_principal_pass_roles(account: Account) -> None:
    for role in ("admin", "etl"):
        message = denied(lambda role=role: create(account.dev, "j", role))
        assert f"sluice:PassRole on sluice:iam:{account.id}:role/{role}" in message

    account.grant(pass_role("etl"))

    assert create(account.dev, "j", "etl").name == "j"
    for role in ("admin", "reporting"):
        denied(lambda role=role: create(account.dev, "j2", role))


def test_admin_is_passable_by_the_operator_only(site: Site, account: Account) -> None:
    account.grant(pass_role("*"))
    create(account.dev, "j", "etl")

    message = denied(lambda: create(account.dev, "j2", "admin"))
    assert "only the operator may pass the built-in role admin" in message
    denied(lambda: update(account.dev, "j", "admin"))
    # Not even the account's admins: runs acting as admin are the operator's to make.
    account.iam.CreatePrincipal(
        iam_pb2.CreatePrincipalRequest(account=account.id, name="boss", roles=["admin"])
    )
    request = iam_pb2.CreateTokenRequest(account=account.id, principal_name="boss")
    with authed_channel(site.server.address, account.iam.CreateToken(request).token) as boss:
        jobs = jobs_pb2_grpc.JobServiceStub(boss)
        assert create(jobs, "boss-job", "etl").name == "boss-job"
        denied(lambda: create(jobs, "j2", "admin"))
    assert create(account.op, "op-job", "admin").name == "op-job"


def test_updating_a_job_passes_its_new_role(account: Account) -> None:
    account.grant(pass_role("etl"))
    create(account.dev, "j", "etl")

    for role in ("admin", "reporting"):
        denied(lambda role=role: update(account.dev, "j", role))

    assert update(account.dev, "j", "etl").job_name == "j"


def test_starting_a_run_passes_the_jobs_role(site: Site, account: Account) -> None:
    create(account.op, "admin-job", "admin")
    assert "role/admin" in denied(lambda: start(account.dev, "admin-job"))
    # The dev could pass reporting when it made the job, and no longer can.
    account.grant(pass_role("reporting"), name="reporting")
    create(account.dev, "reporting-job", "reporting")
    account.grant(pass_role("etl"), name="reporting")
    assert "role/reporting" in denied(lambda: start(account.dev, "reporting-job"))
    # Allowed to pass etl, the dev starts a run; its script is missing, so it fails before
    # anything executes.
    missing = f"file://{site.root / f'absent-{uuid.uuid4().hex}.py'}"
    create(account.dev, "etl-job", "etl", missing)

    run = wait_failed(account.op, "etl-job", start(account.dev, "etl-job"))

    assert "cannot be read: No such file or directory" in run.error_message


def test_a_pass_role_denial_is_audited(site: Site, account: Account) -> None:
    denied(lambda: create(account.dev, "j", "admin"))
    audit = audit_pb2_grpc.AuditServiceStub(site.operator)
    request = audit_pb2.QueryAuditEventsRequest(
        account=account.id, action="glue:CreateJob", outcome=audit_types.AUDIT_OUTCOME_DENIED
    )
    deadline = time.monotonic() + WAIT_S
    while not (events := list(audit.QueryAuditEvents(request).events)):
        assert time.monotonic() < deadline, "the denial was not recorded"
        time.sleep(0.05)

    [event] = events
    assert event.principal_name == "dev"
    assert event.status_code == grpc.StatusCode.PERMISSION_DENIED.value[0]
    assert "only the operator may pass" in event.attributes["sluice.denied_reason"]


# Script sources


def test_a_job_names_files_under_a_script_root_only(site: Site, account: Account) -> None:
    data, op = site.server.data_dir, account.op
    (site.root / "etl.py").write_text("print('local')\n")

    create(op, "local", "etl", f"file://{site.root / 'etl.py'}")
    for path in ("/etc/passwd", f"{site.root}/../../outside.py", "/proc/self/environ"):
        message = invalid(lambda path=path: create(op, "o", "etl", f"file://{path}"))
        assert "is not under a script root" in message
    # The data dir is under the root, and refused all the same.
    for name in ("admin-token", "sluice.db", "secret.key"):
        message = invalid(lambda name=name: create(op, "d", "etl", f"file://{data / name}"))
        assert "names a file of the server itself" in message
        message = invalid(lambda name=name: update(op, "local", "etl", f"file://{data / name}"))
        assert "names a file of the server itself" in message
    # The developer, allowed to pass etl, is refused the same way.
    account.grant(pass_role("etl"))
    invalid(lambda: create(account.dev, "d", "etl", f"file://{data / 'admin-token'}"))


def test_a_run_loads_only_an_allowed_file_within_the_size_cap(site: Site, account: Account) -> None:
    data, op = site.server.data_dir, account.op
    cases = {
        "token": ("names a file of the server itself", data / "admin-token"),
        "zero": ("is not under a script root", Path("/dev/zero")),
        "big": ("is larger than the limit of 1048576 bytes", None),
    }
    runs = {}
    for name, (_, target) in cases.items():
        path = site.root / f"{name}-{uuid.uuid4().hex}.py"
        # Allowed when the job names it; a link elsewhere (or too big) when the run loads it.
        create(op, name, "etl", f"file://{path}")
        if target is None:
            path.write_bytes(b"#" * (1024 * 1024 + 1))
        else:
            path.symlink_to(target)
        runs[name] = start(op, name)

    for name, (reason, _) in cases.items():
        run = wait_failed(op, name, runs[name])
        assert run.error_message.startswith("cannot load script file://"), run.error_message
        assert reason in run.error_message
        assert OPERATOR_TOKEN not in run.error_message
        logs = op.GetJobRunLogs(jobs_pb2.GetJobRunLogsRequest(job_name=name, run_id=runs[name]))
        assert all(OPERATOR_TOKEN not in entry.message for entry in logs.entries)
    assert OPERATOR_TOKEN not in site.server.log_text()
