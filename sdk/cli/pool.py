"""`sluice pool`: the warm pool of Spark environments that job runs start from."""

from __future__ import annotations

import click

from sluice.sdk.cli.context import CliContext, pass_cli
from sluice.sdk.cli.output import Column, Section, emit_one, timestamp

FIELDS = (
    Column("Target size", lambda p: str(p.target_size)),
    Column("Warm", lambda p: str(p.warm)),
    Column("Starting", lambda p: str(p.starting)),
    Column("Bound, idle", lambda p: str(p.bound_idle)),
    Column("Busy", lambda p: str(p.busy)),
    Column("Ray started", lambda p: "yes" if p.ray_started else "no"),
    Column("Ray address", lambda p: p.ray_address),
    Column("Resource limits", lambda p: p.resource_limits),
)
_SANDBOX_COLUMNS = (
    Column("Sandbox", lambda s: s.sandbox_id),
    Column("Account", lambda s: s.account or "(unbound)"),
    Column("OS user", lambda s: s.os_user),
    Column("State", lambda s: s.state),
    Column("Warm", lambda s: str(s.warm)),
    Column("Starting", lambda s: str(s.starting)),
    Column("Bound, idle", lambda s: str(s.bound_idle)),
    Column("Busy", lambda s: str(s.busy)),
    Column("Ray address", lambda s: s.ray_address),
    Column("Idle since", lambda s: timestamp(s.idle_since)),
    Column("Network policy", lambda s: s.network_policy),
    Column("Limits", lambda s: s.resource_limits),
)
_QUEUE_COLUMNS = (
    Column("Position", lambda q: str(q.position)),
    Column("Account", lambda q: q.account),
    Column("Job", lambda q: q.job_name),
    Column("Run", lambda q: q.run_id),
    Column("Started", lambda q: timestamp(q.started_on)),
)
# Each account's sandbox and the unbound spares, then the runs waiting for room (the operator
# sees all, others their own account's).
SECTIONS = (
    Section("Sandboxes", _SANDBOX_COLUMNS, lambda p: p.sandboxes),
    Section(
        "Queue (WAITING runs, each account's in the order they start)",
        _QUEUE_COLUMNS,
        lambda p: p.queue,
    ),
)


@click.group()
def pool() -> None:
    """The warm pool of environments that job runs start from."""


@pool.command("status")
@pass_cli
def status(cli: CliContext) -> None:
    """Show how many environments are warm, starting, idle and busy, and whether Ray is up;
    then each sandbox (an account's own Ray cluster, or an unbound spare), and the runs waiting
    for room (job run queuing), each account's in the order they will start."""
    emit_one(cli, cli.jobs.pool_status(), FIELDS, SECTIONS)
