"""`sluice workflows`: graphs of triggers and jobs, run as a whole.

A workflow's triggers are made with `sluice triggers create --workflow NAME`: one ON_DEMAND
start trigger, and CONDITIONAL ones on the jobs before them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import click

from sluice.jobs.v1 import types_pb2
from sluice.jobs.v1 import workflows_pb2 as api
from sluice.sdk.cli.context import CliContext, OutputFormat, pass_cli
from sluice.sdk.cli.inputs import key_values
from sluice.sdk.cli.output import (
    Column,
    Section,
    emit_done,
    emit_list,
    emit_one,
    pairs,
    timestamp,
    to_dict,
)
from sluice.sdk.workflows import node_type_name, status_name


def _stats(run: api.WorkflowRun) -> str:
    s = run.statistics
    parts = [
        ("total", s.total_actions),
        ("running", s.running_actions),
        ("succeeded", s.succeeded_actions),
        ("failed", s.failed_actions),
        ("stopped", s.stopped_actions),
        ("timeout", s.timeout_actions),
        ("error", s.errored_actions),
    ]
    return ", ".join(f"{name} {n}" for name, n in parts if n or name == "total")


def _job_state(value: int) -> str:
    return types_pb2.JobRunState.Name(value).removeprefix("JOB_RUN_STATE_")  # type: ignore[arg-type]


RUN_COLUMNS = (
    Column("RUN ID", lambda r: r.workflow_run_id),
    Column("STATUS", lambda r: status_name(r.status)),
    Column("STARTED (UTC)", lambda r: timestamp(r.started_on)),
    Column("COMPLETED (UTC)", lambda r: timestamp(r.completed_on)),
    Column("ACTIONS", _stats),
)
RUN_FIELDS = (
    Column("Workflow", lambda r: r.name),
    Column("Run id", lambda r: r.workflow_run_id),
    Column("Status", lambda r: status_name(r.status)),
    Column("Started (UTC)", lambda r: timestamp(r.started_on)),
    Column("Completed (UTC)", lambda r: timestamp(r.completed_on)),
    Column("Properties", lambda r: pairs(r.workflow_run_properties)),
    Column("Actions", _stats),
    Column("Error", lambda r: r.error_message),
)
FIELDS = (
    Column("Name", lambda w: w.name),
    Column("Description", lambda w: w.description),
    Column("Default run properties", lambda w: pairs(w.default_run_properties)),
    Column("Max concurrent runs", lambda w: str(w.max_concurrent_runs or "no limit")),
    Column("Created (UTC)", lambda w: timestamp(w.created_on)),
    Column("Last run", lambda w: w.last_run.workflow_run_id),
    Column(
        "Last run status",
        lambda w: status_name(w.last_run.status) if w.HasField("last_run") else "",
    ),
)


@click.group()
def workflows() -> None:
    """Workflows: graphs of triggers and jobs, run as a whole."""


@workflows.command("create")
@click.argument("name")
@click.option("--description", default="")
@click.option("--property", "properties", multiple=True, metavar="KEY=VALUE", help="Repeatable.")
@click.option("--max-concurrent-runs", type=click.IntRange(0, 1000), default=0, show_default=True)
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Repeatable.")
@pass_cli
def create(
    cli: CliContext,
    name: str,
    description: str,
    properties: tuple[str, ...],
    max_concurrent_runs: int,
    tags: tuple[str, ...],
) -> None:
    """Create workflow NAME (--max-concurrent-runs 0: no limit).

    \b
    Example:
      sluice workflows create nightly --max-concurrent-runs 1
      sluice triggers create nightly-start --workflow nightly --type ON_DEMAND --job load
      sluice triggers create nightly-report --workflow nightly --type CONDITIONAL \\
          --when load=SUCCEEDED --job report
      sluice workflows start nightly
    """
    cli.client.workflows.create(
        name,
        description=description,
        default_run_properties=key_values(properties, option="--property"),
        max_concurrent_runs=max_concurrent_runs,
        tags=key_values(tags, option="--tag"),
    )
    emit_done(cli, f"Created workflow {name}.")


@workflows.command("get")
@click.argument("name")
@pass_cli
def get(cli: CliContext, name: str) -> None:
    """Show workflow NAME."""
    emit_one(cli, cli.client.workflows.get(name, include_graph=True), FIELDS)


@workflows.command("list")
@pass_cli
def list_(cli: CliContext) -> None:
    """List the workflows' names."""
    names = list(cli.client.workflows.list())
    if cli.output is OutputFormat.JSON:
        click.echo(json.dumps(names, indent=2))
        return
    for name in names:
        click.echo(name)


@workflows.command("update")
@click.argument("name")
@click.option("--description", default="")
@click.option("--property", "properties", multiple=True, metavar="KEY=VALUE")
@click.option("--max-concurrent-runs", type=click.IntRange(0, 1000), default=0, show_default=True)
@pass_cli
def update(
    cli: CliContext,
    name: str,
    description: str,
    properties: tuple[str, ...],
    max_concurrent_runs: int,
) -> None:
    """Replace workflow NAME's description, default run properties and run cap."""
    cli.client.workflows.update(
        name,
        description=description,
        default_run_properties=key_values(properties, option="--property"),
        max_concurrent_runs=max_concurrent_runs,
    )
    emit_done(cli, f"Updated workflow {name}.")


@workflows.command("delete")
@click.argument("name")
@pass_cli
def delete(cli: CliContext, name: str) -> None:
    """Delete workflow NAME and its triggers."""
    cli.client.workflows.delete(name)
    emit_done(cli, f"Deleted workflow {name}.")


@workflows.command("start")
@click.argument("name")
@click.option("--property", "properties", multiple=True, metavar="KEY=VALUE", help="Repeatable.")
@pass_cli
def start(cli: CliContext, name: str, properties: tuple[str, ...]) -> None:
    """Start a run of workflow NAME; prints its run id."""
    run_id = cli.client.workflows.start_run(name, key_values(properties, option="--property"))
    if cli.output is OutputFormat.JSON:
        click.echo(f'{{"run_id": "{run_id}"}}')
    else:
        click.echo(run_id)


@workflows.command("resume")
@click.argument("name")
@click.argument("run_id")
@click.option(
    "--node",
    "nodes",
    multiple=True,
    required=True,
    metavar="job/JOB",
    help="A job node to run again (and what follows it). Repeatable.",
)
@pass_cli
def resume(cli: CliContext, name: str, run_id: str, nodes: tuple[str, ...]) -> None:
    """Resume ended run RUN_ID of workflow NAME from the given nodes; prints the new run id."""
    new_id = cli.client.workflows.resume_run(
        name, run_id, [n if "/" in n else f"job/{n}" for n in nodes]
    )
    if cli.output is OutputFormat.JSON:
        click.echo(f'{{"run_id": "{new_id}"}}')
    else:
        click.echo(new_id)


@workflows.command("runs")
@click.argument("name")
@pass_cli
def runs(cli: CliContext, name: str) -> None:
    """List workflow NAME's runs, newest first."""
    emit_list(cli, cli.client.workflows.get_runs(name), RUN_COLUMNS)


def _job_runs(run: api.WorkflowRun) -> list[Any]:
    return [job_run for node in run.graph.nodes for job_run in node.job_details.job_runs]


@workflows.command("run")
@click.argument("name")
@click.argument("run_id")
@pass_cli
def run(cli: CliContext, name: str, run_id: str) -> None:
    """Show run RUN_ID of workflow NAME, with its job runs."""
    emit_one(
        cli,
        cli.client.workflows.get_run(name, run_id, include_graph=True),
        RUN_FIELDS,
        sections=(
            Section(
                "Job runs",
                (
                    Column("JOB", lambda r: r.job_name),
                    Column("RUN ID", lambda r: r.id),
                    Column("STATE", lambda r: _job_state(r.job_run_state)),
                    Column("TRIGGER", lambda r: r.trigger_name),
                    Column("ERROR", lambda r: r.error_message),
                ),
                _job_runs,
            ),
        ),
    )


@workflows.command("stop")
@click.argument("name")
@click.argument("run_id")
@pass_cli
def stop(cli: CliContext, name: str, run_id: str) -> None:
    """Stop run RUN_ID of workflow NAME and its active job runs."""
    cli.client.workflows.stop_run(name, run_id)
    emit_done(cli, f"Stopping workflow run {run_id}.")


@workflows.command("properties")
@click.argument("name")
@click.argument("run_id")
@click.option("--set", "values", multiple=True, metavar="KEY=VALUE", help="Merge in. Repeatable.")
@pass_cli
def properties(cli: CliContext, name: str, run_id: str, values: tuple[str, ...]) -> None:
    """Show (or, with --set, merge into) run RUN_ID's properties."""
    if values:
        cli.client.workflows.put_run_properties(name, run_id, key_values(values, option="--set"))
    current = cli.client.workflows.get_run_properties(name, run_id)
    if cli.output is OutputFormat.JSON:
        click.echo(json.dumps(current, indent=2, sort_keys=True))
        return
    for key in sorted(current):
        click.echo(f"{key}={current[key]}")


def graph_lines(graph: api.WorkflowGraph, run: api.WorkflowRun | None) -> list[str]:
    """The graph layer by layer (a node's layer: the longest path to it), each node with its
    state in the run (a job: its last run's state; a trigger: FIRED or WAITING)."""
    incoming: dict[str, list[str]] = defaultdict(list)
    for edge in graph.edges:
        incoming[edge.destination_id].append(edge.source_id)
    layer: dict[str, int] = {}
    for node in graph.nodes:  # served in topological order
        layer[node.unique_id] = max(
            (layer[src] + 1 for src in incoming[node.unique_id] if src in layer), default=0
        )
    fired = {r.trigger_name for n in graph.nodes for r in n.job_details.job_runs}
    lines: list[str] = []
    for depth in sorted(set(layer.values())):
        lines.append(f"layer {depth}:")
        for node in graph.nodes:
            if layer[node.unique_id] != depth:
                continue
            kind = node_type_name(node.type).lower()
            state = ""
            if run is not None:
                if node.job_details.job_runs:
                    last = node.job_details.job_runs[-1]
                    state = f"{_job_state(last.job_run_state)} ({last.id})"
                elif node.crawler_details.crawls:
                    state = node.crawler_details.crawls[-1].state
                elif kind == "trigger":
                    state = "FIRED" if node.name in fired else "WAITING"
                else:
                    state = "NOT RUN"
            after = ", ".join(incoming[node.unique_id])
            text = f"  [{kind}] {node.name}"
            if state:
                text += f"  {state}"
            if after:
                text += f"  <- {after}"
            lines.append(text)
    return lines


@workflows.command("graph")
@click.argument("name")
@click.option("--run", "run_id", help="Show each node's state in this run.")
@pass_cli
def graph(cli: CliContext, name: str, run_id: str | None) -> None:
    """Draw workflow NAME's graph, by topological layer (with a run's node states)."""
    run_message: api.WorkflowRun | None = None
    if run_id:
        run_message = cli.client.workflows.get_run(name, run_id, include_graph=True)
        shown = run_message.graph
    else:
        shown = cli.client.workflows.get(name, include_graph=True).graph
    if cli.output is OutputFormat.JSON:
        click.echo(json.dumps(to_dict(shown), indent=2))
        return
    if run_message is not None:
        click.echo(
            f"workflow {name} run {run_message.workflow_run_id}: "
            f"{status_name(run_message.status)} ({_stats(run_message)})"
        )
    for line in graph_lines(shown, run_message):
        click.echo(line)
