"""The workflows part of the SDK: graphs of triggers and jobs, run as a whole."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import grpc

from sluice.jobs.v1 import workflows_pb2 as api
from sluice.jobs.v1 import workflows_pb2_grpc
from sluice.sdk._calls import ServiceCalls
from sluice.sdk.config import ClientOptions


def status_name(value: int) -> str:
    """The Glue name of a workflow run status value (RUNNING, COMPLETED, ...)."""
    return api.WorkflowRunStatus.Name(value).removeprefix("WORKFLOW_RUN_STATUS_")  # type: ignore[arg-type]


def node_type_name(value: int) -> str:
    """The Glue name of a graph node type value (TRIGGER, JOB, CRAWLER)."""
    return api.NodeType.Name(value).removeprefix("NODE_TYPE_")  # type: ignore[arg-type]


class WorkflowsClient(ServiceCalls):
    """Sluice workflows, as Glue's. Obtain one from `Client.workflows`. A workflow's triggers
    are made with `Client.triggers` (their `workflow_name`): one ON_DEMAND start trigger and
    CONDITIONAL ones on the jobs before them.

    Example:
        >>> client.workflows.create("nightly", max_concurrent_runs=1)  # doctest: +SKIP
        >>> run_id = client.workflows.start_run("nightly")  # doctest: +SKIP
    """

    def __init__(self, channel: grpc.Channel, options: ClientOptions, address: str) -> None:
        super().__init__(options, address)
        self._stub = workflows_pb2_grpc.WorkflowServiceStub(channel)

    def create(
        self,
        name: str,
        *,
        description: str = "",
        default_run_properties: Mapping[str, str] | None = None,
        max_concurrent_runs: int = 0,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """Creates a workflow (max_concurrent_runs 0: no limit); its name."""
        request = api.CreateWorkflowRequest(
            name=name,
            description=description,
            default_run_properties=dict(default_run_properties or {}),
            max_concurrent_runs=max_concurrent_runs,
            tags=dict(tags or {}),
        )
        response: api.CreateWorkflowResponse = self._call(self._stub.CreateWorkflow, request)
        return response.name

    def get(self, name: str, *, include_graph: bool = False) -> api.Workflow:
        response: api.GetWorkflowResponse = self._call(
            self._stub.GetWorkflow, api.GetWorkflowRequest(name=name, include_graph=include_graph)
        )
        return response.workflow

    def list(self, *, page_size: int | None = None) -> Iterator[str]:
        """The names of the workflows, by name."""
        request = api.ListWorkflowsRequest(max_results=page_size or 0)
        return self._paginate(self._stub.ListWorkflows, request, "workflows")

    def batch_get(
        self, names: Sequence[str], *, include_graph: bool = False
    ) -> api.BatchGetWorkflowsResponse:
        """The workflows found of names, and the names not found."""
        response: api.BatchGetWorkflowsResponse = self._call(
            self._stub.BatchGetWorkflows,
            api.BatchGetWorkflowsRequest(names=list(names), include_graph=include_graph),
        )
        return response

    def update(
        self,
        name: str,
        *,
        description: str = "",
        default_run_properties: Mapping[str, str] | None = None,
        max_concurrent_runs: int = 0,
    ) -> str:
        """Replaces a workflow's description, default run properties and run cap."""
        request = api.UpdateWorkflowRequest(
            name=name,
            description=description,
            default_run_properties=dict(default_run_properties or {}),
            max_concurrent_runs=max_concurrent_runs,
        )
        response: api.UpdateWorkflowResponse = self._call(self._stub.UpdateWorkflow, request)
        return response.name

    def delete(self, name: str) -> None:
        """Deletes a workflow and its triggers (its job runs stay)."""
        self._call(self._stub.DeleteWorkflow, api.DeleteWorkflowRequest(name=name))

    def start_run(self, name: str, run_properties: Mapping[str, str] | None = None) -> str:
        """Starts a run; its id.

        Raises:
            ConcurrentRunsExceeded: The workflow has max_concurrent_runs runs already.
        """
        response: api.StartWorkflowRunResponse = self._call(
            self._stub.StartWorkflowRun,
            api.StartWorkflowRunRequest(name=name, run_properties=dict(run_properties or {})),
        )
        return response.run_id

    def resume_run(self, name: str, run_id: str, node_ids: Sequence[str]) -> str:
        """A new run after ended run run_id that runs the given job nodes (job/<name>) and what
        follows them again; its id."""
        response: api.ResumeWorkflowRunResponse = self._call(
            self._stub.ResumeWorkflowRun,
            api.ResumeWorkflowRunRequest(name=name, run_id=run_id, node_ids=list(node_ids)),
        )
        return response.run_id

    def get_run(self, name: str, run_id: str, *, include_graph: bool = False) -> api.WorkflowRun:
        response: api.GetWorkflowRunResponse = self._call(
            self._stub.GetWorkflowRun,
            api.GetWorkflowRunRequest(name=name, run_id=run_id, include_graph=include_graph),
        )
        return response.run

    def get_runs(
        self, name: str, *, include_graph: bool = False, page_size: int | None = None
    ) -> Iterator[api.WorkflowRun]:
        """The workflow's runs, newest first."""
        request = api.GetWorkflowRunsRequest(
            name=name, include_graph=include_graph, max_results=page_size or 0
        )
        return self._paginate(self._stub.GetWorkflowRuns, request, "runs")

    def stop_run(self, name: str, run_id: str) -> None:
        """Stops a RUNNING run and its active job runs."""
        self._call(self._stub.StopWorkflowRun, api.StopWorkflowRunRequest(name=name, run_id=run_id))

    def get_run_properties(self, name: str, run_id: str) -> dict[str, str]:
        response: api.GetWorkflowRunPropertiesResponse = self._call(
            self._stub.GetWorkflowRunProperties,
            api.GetWorkflowRunPropertiesRequest(name=name, run_id=run_id),
        )
        return dict(response.run_properties)

    def put_run_properties(self, name: str, run_id: str, properties: Mapping[str, str]) -> None:
        """Merges properties into a RUNNING run's."""
        self._call(
            self._stub.PutWorkflowRunProperties,
            api.PutWorkflowRunPropertiesRequest(
                name=name, run_id=run_id, run_properties=dict(properties)
            ),
        )


__all__ = ["WorkflowsClient", "node_type_name", "status_name"]
