"""Workflows through a real server, without Ray: the jobs' script is missing, so each run fails
at loading it (cheap, and still a real run through the scheduler and the trigger firer)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from sluice.jobs.v1 import triggers_pb2 as tr
from sluice.jobs.v1 import workflows_pb2 as wf
from sluice.jobs.v1 import workflows_pb2_grpc
from tests.integration.conftest import ServerProcess, authed_channel, wait_until
from tests.integration.test_cli import ok, sluice  # noqa: F401
from tests.integration.test_triggers import WAIT_S, Api, refused, unique

pytestmark = pytest.mark.integration


class Flows(Api):
    def __init__(self, channel: grpc.Channel) -> None:
        super().__init__(channel)
        self.workflows = workflows_pb2_grpc.WorkflowServiceStub(channel)

    def run(self, name: str, run_id: str, graph: bool = False) -> Any:
        return self.workflows.GetWorkflowRun(
            wf.GetWorkflowRunRequest(name=name, run_id=run_id, include_graph=graph)
        ).run


@pytest.fixture(scope="module")
def flows(server: ServerProcess) -> Iterator[Flows]:
    with authed_channel(server.address) as channel:
        yield Flows(channel)


def test_a_two_job_workflow_runs_to_completion(flows: Flows) -> None:
    first, second = flows.job(unique("a")), flows.job(unique("b"))
    name = unique("flow")
    flows.workflows.CreateWorkflow(
        wf.CreateWorkflowRequest(
            name=name, default_run_properties={"day": "1"}, max_concurrent_runs=1
        )
    )
    flows.triggers.CreateTrigger(
        tr.CreateTriggerRequest(
            name=f"{name}-start",
            workflow_name=name,
            type=tr.TRIGGER_TYPE_ON_DEMAND,
            actions=[tr.Action(job_name=first)],
        )
    )
    flows.triggers.CreateTrigger(
        tr.CreateTriggerRequest(
            name=f"{name}-then",
            workflow_name=name,
            type=tr.TRIGGER_TYPE_CONDITIONAL,
            predicate=tr.Predicate(conditions=[tr.Condition(job_name=first, state="FAILED")]),
            actions=[tr.Action(job_name=second)],
        )
    )
    # A cycle back to the first job is refused, naming it; nothing is created.
    details = refused(
        lambda: flows.triggers.CreateTrigger(
            tr.CreateTriggerRequest(
                name=f"{name}-back",
                workflow_name=name,
                type=tr.TRIGGER_TYPE_CONDITIONAL,
                predicate=tr.Predicate(conditions=[tr.Condition(job_name=second, state="FAILED")]),
                actions=[tr.Action(job_name=first)],
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "cycle" in details and f"job/{first}" in details
    run_id = flows.workflows.StartWorkflowRun(
        wf.StartWorkflowRunRequest(name=name, run_properties={"extra": "x"})
    ).run_id
    refused(
        lambda: flows.workflows.StartWorkflowRun(wf.StartWorkflowRunRequest(name=name)),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    )
    flows.workflows.PutWorkflowRunProperties(
        wf.PutWorkflowRunPropertiesRequest(name=name, run_id=run_id, run_properties={"k": "v"})
    )
    wait_until(
        lambda: flows.run(name, run_id).status == wf.WORKFLOW_RUN_STATUS_COMPLETED,
        WAIT_S,
        "the workflow run to complete",
    )
    run = flows.run(name, run_id, graph=True)
    assert run.statistics.total_actions == 2 and run.statistics.failed_actions == 2
    assert dict(run.workflow_run_properties) == {"day": "1", "extra": "x", "k": "v"}
    nodes = {node.unique_id: node for node in run.graph.nodes}
    assert list(nodes) == [
        f"trigger/{name}-start",
        f"job/{first}",
        f"trigger/{name}-then",
        f"job/{second}",
    ]
    (b_run,) = nodes[f"job/{second}"].job_details.job_runs
    assert b_run.arguments["--WORKFLOW_RUN_ID"] == run_id
    assert b_run.arguments["--WORKFLOW_NAME"] == name
    assert {(e.source_id, e.destination_id) for e in run.graph.edges} == {
        (f"trigger/{name}-start", f"job/{first}"),
        (f"job/{first}", f"trigger/{name}-then"),
        (f"trigger/{name}-then", f"job/{second}"),
    }
    # Ended: its properties are final; a new run may start (the slot was freed).
    refused(
        lambda: flows.workflows.PutWorkflowRunProperties(
            wf.PutWorkflowRunPropertiesRequest(name=name, run_id=run_id, run_properties={"k": "w"})
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    workflow = flows.workflows.GetWorkflow(wf.GetWorkflowRequest(name=name)).workflow
    assert workflow.last_run.workflow_run_id == run_id
    assert name in flows.workflows.ListWorkflows(wf.ListWorkflowsRequest()).workflows
    batch = flows.workflows.BatchGetWorkflows(
        wf.BatchGetWorkflowsRequest(names=[name, "missing-flow"])
    )
    assert [w.name for w in batch.workflows] == [name]
    assert list(batch.missing_workflows) == ["missing-flow"]
    flows.workflows.DeleteWorkflow(wf.DeleteWorkflowRequest(name=name))
    refused(
        lambda: flows.triggers.GetTrigger(tr.GetTriggerRequest(name=f"{name}-start")),
        grpc.StatusCode.NOT_FOUND,
    )


def test_the_cli_makes_runs_and_draws_the_graph(flows: Flows, sluice: Any) -> None:  # noqa: F811
    first, second = flows.job(unique("a")), flows.job(unique("b"))
    name = unique("flow")
    ok(sluice("workflows", "create", name, "--property", "day=1"))
    ok(
        sluice(
            "triggers",
            "create",
            f"{name}-go",
            "--workflow",
            name,
            "--type",
            "ON_DEMAND",
            "--job",
            first,
        )
    )
    ok(
        sluice(
            "triggers",
            "create",
            f"{name}-then",
            "--workflow",
            name,
            "--type",
            "CONDITIONAL",
            "--when",
            f"{first}=FAILED",
            "--job",
            second,
        )
    )
    drawn = ok(sluice("workflows", "graph", name))
    assert drawn.splitlines() == [
        "layer 0:",
        f"  [trigger] {name}-go",
        "layer 1:",
        f"  [job] {first}  <- trigger/{name}-go",
        "layer 2:",
        f"  [trigger] {name}-then  <- job/{first}",
        "layer 3:",
        f"  [job] {second}  <- trigger/{name}-then",
    ]
    run_id = ok(sluice("workflows", "start", name)).strip()
    wait_until(
        lambda: flows.run(name, run_id).status == wf.WORKFLOW_RUN_STATUS_COMPLETED,
        WAIT_S,
        "the workflow run to complete",
    )
    drawn = ok(sluice("workflows", "graph", name, "--run", run_id))
    assert drawn.splitlines()[0] == f"workflow {name} run {run_id}: COMPLETED (total 2, failed 2)"
    assert f"  [trigger] {name}-then  FIRED  <- job/{first}" in drawn.splitlines()
    assert any(line.startswith(f"  [job] {second}  FAILED (jr_") for line in drawn.splitlines())
    # The run keeps its graph as it started: a trigger deleted since is still in it.
    ok(sluice("triggers", "delete", f"{name}-then"))
    assert f"trigger/{name}-then" not in ok(sluice("workflows", "graph", name))
    assert ok(sluice("workflows", "graph", name, "--run", run_id)) == drawn
    assert run_id in ok(sluice("workflows", "runs", name))
    assert ok(sluice("workflows", "properties", name, run_id)) == "day=1\n"
    ok(sluice("workflows", "delete", name))
    assert name not in ok(sluice("workflows", "list")).split()


def test_an_ended_run_resumes_from_a_node(flows: Flows) -> None:
    first, second = flows.job(unique("a")), flows.job(unique("b"))
    name = unique("flow")
    flows.workflows.CreateWorkflow(wf.CreateWorkflowRequest(name=name))
    flows.triggers.CreateTrigger(
        tr.CreateTriggerRequest(
            name=f"{name}-start",
            workflow_name=name,
            type=tr.TRIGGER_TYPE_ON_DEMAND,
            actions=[tr.Action(job_name=first)],
        )
    )
    flows.triggers.CreateTrigger(
        tr.CreateTriggerRequest(
            name=f"{name}-then",
            workflow_name=name,
            type=tr.TRIGGER_TYPE_CONDITIONAL,
            predicate=tr.Predicate(conditions=[tr.Condition(job_name=first, state="FAILED")]),
            actions=[tr.Action(job_name=second)],
        )
    )
    run_id = flows.workflows.StartWorkflowRun(wf.StartWorkflowRunRequest(name=name)).run_id
    wait_until(
        lambda: flows.run(name, run_id).status == wf.WORKFLOW_RUN_STATUS_COMPLETED,
        WAIT_S,
        "the workflow run to complete",
    )
    refused(
        lambda: flows.workflows.StopWorkflowRun(
            wf.StopWorkflowRunRequest(name=name, run_id=run_id)
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    resumed = flows.workflows.ResumeWorkflowRun(
        wf.ResumeWorkflowRunRequest(name=name, run_id=run_id, node_ids=[f"job/{second}"])
    )
    assert list(resumed.node_ids) == [f"job/{second}"]
    wait_until(
        lambda: flows.run(name, resumed.run_id).status == wf.WORKFLOW_RUN_STATUS_COMPLETED,
        WAIT_S,
        "the resumed run to complete",
    )
    run = flows.run(name, resumed.run_id, graph=True)
    assert run.previous_run_id == run_id
    assert run.statistics.total_actions == 1  # b again; a is not run again
    assert len(flows.runs(first)) == 1 and len(flows.runs(second)) == 2
