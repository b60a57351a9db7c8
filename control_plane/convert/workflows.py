"""Workflows between the API's messages and the store's dataclasses."""

from __future__ import annotations

from collections.abc import Sequence

from sluice.control_plane.convert.common import timestamp
from sluice.control_plane.convert.jobs import job_run_to_proto
from sluice.control_plane.convert.triggers import trigger_to_proto
from sluice.control_plane.jobs.triggers.model import Trigger
from sluice.control_plane.jobs.workflows import graph
from sluice.control_plane.jobs.workflows.model import (
    RunStatus,
    Workflow,
    WorkflowInput,
    WorkflowRun,
)
from sluice.jobs.v1 import workflows_pb2 as api

_STATUSES = {
    RunStatus.RUNNING: api.WORKFLOW_RUN_STATUS_RUNNING,
    RunStatus.COMPLETED: api.WORKFLOW_RUN_STATUS_COMPLETED,
    RunStatus.STOPPING: api.WORKFLOW_RUN_STATUS_STOPPING,
    RunStatus.STOPPED: api.WORKFLOW_RUN_STATUS_STOPPED,
    RunStatus.ERROR: api.WORKFLOW_RUN_STATUS_ERROR,
}
_NODE_TYPES = {
    "TRIGGER": api.NODE_TYPE_TRIGGER,
    "JOB": api.NODE_TYPE_JOB,
    "CRAWLER": api.NODE_TYPE_CRAWLER,
}


def workflow_input(
    request: api.CreateWorkflowRequest | api.UpdateWorkflowRequest,
) -> WorkflowInput:
    tags = dict(request.tags) if isinstance(request, api.CreateWorkflowRequest) else {}
    return WorkflowInput(
        name=request.name,
        description=request.description,
        default_run_properties=dict(request.default_run_properties),
        max_concurrent_runs=request.max_concurrent_runs,
        tags=tags,
    )


def graph_to_proto(triggers: Sequence[Trigger], run: WorkflowRun | None) -> api.WorkflowGraph:
    """The workflow's graph: its triggers and jobs (with a run's job runs, for a run)."""
    shapes = [_graph_trigger(t) for t in triggers]
    by_name = {t.name: t for t in triggers}
    message = api.WorkflowGraph()
    for node in graph.nodes(shapes):
        item = api.Node(type=_NODE_TYPES[node.type], name=node.name, unique_id=node.unique_id)
        if node.type == "TRIGGER":
            item.trigger_details.trigger.CopyFrom(trigger_to_proto(by_name[node.name]))
        elif run is not None and node.type == "CRAWLER":
            item.crawler_details.crawls.extend(
                api.WorkflowCrawl(
                    state=c.state,
                    started_on=timestamp(c.started_on),
                    completed_on=timestamp(c.completed_on),
                    error_message=c.error_message,
                )
                for c in run.crawls
                if c.crawler_name == node.name
            )
        elif run is not None:
            item.job_details.job_runs.extend(
                job_run_to_proto(r) for r in run.job_runs if r.job_name == node.name
            )
        message.nodes.append(item)
    for source, destination in graph.edges(shapes):
        message.edges.append(
            api.Edge(source_id=source.unique_id, destination_id=destination.unique_id)
        )
    return message


def _graph_trigger(trigger: Trigger) -> graph.GraphTrigger:
    return graph.of_trigger(trigger)


def run_to_proto(run: WorkflowRun, triggers: Sequence[Trigger] | None = None) -> api.WorkflowRun:
    stats = run.statistics
    message = api.WorkflowRun(
        name=run.workflow_name,
        workflow_run_id=run.run_id,
        previous_run_id=run.previous_run_id,
        workflow_run_properties=dict(run.properties) or None,
        started_on=timestamp(run.started_on),
        completed_on=timestamp(run.completed_on),
        status=_STATUSES[run.status],
        error_message=run.error_message,
        statistics=api.WorkflowRunStatistics(
            total_actions=stats.total,
            timeout_actions=stats.timeout,
            failed_actions=stats.failed,
            stopped_actions=stats.stopped,
            succeeded_actions=stats.succeeded,
            running_actions=stats.running,
            errored_actions=stats.errored,
            waiting_actions=stats.waiting,
        ),
    )
    if triggers is not None:
        message.graph.CopyFrom(graph_to_proto(triggers, run))
    return message


def workflow_to_proto(
    workflow: Workflow, triggers: Sequence[Trigger] | None = None
) -> api.Workflow:
    message = api.Workflow(
        name=workflow.name,
        description=workflow.description,
        default_run_properties=dict(workflow.default_run_properties) or None,
        created_on=timestamp(workflow.created_on),
        last_modified_on=timestamp(workflow.last_modified_on),
        max_concurrent_runs=workflow.max_concurrent_runs,
    )
    if workflow.last_run is not None:
        message.last_run.CopyFrom(run_to_proto(workflow.last_run))
    if triggers is not None:
        message.graph.CopyFrom(graph_to_proto(triggers, None))
    return message
