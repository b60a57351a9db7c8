"""The WorkflowService servicer: convert, check, call the workflow store, respond.

A workflow's triggers are made, changed and deleted with the TriggerService (workflow_name);
StartWorkflowRun fires the start trigger's actions at once, and the trigger firer (on the
scheduler lease's holder) fires the rest within each run and ends the run. StopWorkflowRun
stops the run's active job runs through the job store, as StopJobRun does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

import grpc

from sluice.common.errors import EntityNotFound, InvalidInput, SluiceError
from sluice.common.limits import max_items_of, max_results_of
from sluice.common.paging import PageRequest
from sluice.control_plane.convert.workflows import (
    run_to_proto,
    workflow_input,
    workflow_to_proto,
)
from sluice.control_plane.jobs.store import JobStore
from sluice.control_plane.jobs.triggers.store import Network
from sluice.control_plane.jobs.workflows.model import workflow_name
from sluice.control_plane.jobs.workflows.sql_store import SqlWorkflowStore
from sluice.control_plane.security.calls import current_call
from sluice.jobs.v1 import workflows_pb2 as api
from sluice.jobs.v1 import workflows_pb2_grpc

Ctx: TypeAlias = grpc.ServicerContext


def page_request(request: api.ListWorkflowsRequest | api.GetWorkflowRunsRequest) -> PageRequest:
    call = "ListWorkflows" if isinstance(request, api.ListWorkflowsRequest) else "GetWorkflowRuns"
    return PageRequest(
        max_results=request.max_results,
        next_token=request.next_token,
        max_allowed=max_results_of(call),
    )


class WorkflowServicer(workflows_pb2_grpc.WorkflowServiceServicer):
    """Serves sluice.jobs.v1.WorkflowService.

    Args:
        store: Where workflows and their runs are kept.
        jobs: The job store, to stop a stopped workflow run's job runs.
        account: The account every call acts as on a server without authentication.
        network: A job's runs' subnet and security group.
        on_fired: Called when a run started job runs, or one was stopped (wakes the run
            scheduler and the trigger firer). Must not block.
        stop_crawler: Stops a crawler's crawl, by (account, crawler name): a stopped workflow
            run's crawls.
    """

    def __init__(
        self,
        store: SqlWorkflowStore,
        jobs: JobStore,
        *,
        account: str,
        network: Network,
        on_fired: Callable[[], None],
        stop_crawler: Callable[[str, str], object] | None = None,
    ) -> None:
        if not account:
            raise ValueError("account must not be empty")
        self._store = store
        self._jobs = jobs
        self._account_id = account
        self._network = network
        self._on_fired = on_fired
        self._stop_crawler = stop_crawler

    def _account(self) -> str:
        info = current_call()
        if info is not None and info.account:
            return info.account
        return self._account_id

    def CreateWorkflow(
        self, request: api.CreateWorkflowRequest, context: Ctx
    ) -> api.CreateWorkflowResponse:
        workflow = self._store.create_workflow(self._account(), workflow_input(request))
        return api.CreateWorkflowResponse(name=workflow.name)

    def _workflow(self, account: str, name: str, include_graph: bool) -> api.Workflow:
        workflow = self._store.get_workflow(account, name)
        triggers = self._store.workflow_triggers(account, name) if include_graph else None
        return workflow_to_proto(workflow, triggers)

    def GetWorkflow(self, request: api.GetWorkflowRequest, context: Ctx) -> api.GetWorkflowResponse:
        return api.GetWorkflowResponse(
            workflow=self._workflow(self._account(), request.name, request.include_graph)
        )

    def ListWorkflows(
        self, request: api.ListWorkflowsRequest, context: Ctx
    ) -> api.ListWorkflowsResponse:
        page = self._store.list_workflow_names(self._account(), page_request(request))
        return api.ListWorkflowsResponse(workflows=list(page.items), next_token=page.next_token)

    def BatchGetWorkflows(
        self, request: api.BatchGetWorkflowsRequest, context: Ctx
    ) -> api.BatchGetWorkflowsResponse:
        names = list(request.names)
        most = max_items_of("BatchGetWorkflows")
        if not 1 <= len(names) <= most:
            raise InvalidInput(f"names holds 1 to {most} workflow names")
        account = self._account()
        response = api.BatchGetWorkflowsResponse()
        for name in names:
            try:
                response.workflows.append(self._workflow(account, name, request.include_graph))
            except (EntityNotFound, InvalidInput):
                response.missing_workflows.append(name)
        return response

    def UpdateWorkflow(
        self, request: api.UpdateWorkflowRequest, context: Ctx
    ) -> api.UpdateWorkflowResponse:
        workflow = self._store.update_workflow(self._account(), workflow_input(request))
        return api.UpdateWorkflowResponse(name=workflow.name)

    def DeleteWorkflow(
        self, request: api.DeleteWorkflowRequest, context: Ctx
    ) -> api.DeleteWorkflowResponse:
        self._store.delete_workflow(self._account(), request.name)
        return api.DeleteWorkflowResponse(name=request.name)

    def StartWorkflowRun(
        self, request: api.StartWorkflowRunRequest, context: Ctx
    ) -> api.StartWorkflowRunResponse:
        run_id, _fired = self._store.start_run(
            self._account(), request.name, dict(request.run_properties), self._network
        )
        # Even when no job run started (all skipped), the firer ends the run.
        self._on_fired()
        return api.StartWorkflowRunResponse(run_id=run_id)

    def ResumeWorkflowRun(
        self, request: api.ResumeWorkflowRunRequest, context: Ctx
    ) -> api.ResumeWorkflowRunResponse:
        run_id, node_ids, _fired = self._store.resume_run(
            self._account(), request.name, request.run_id, list(request.node_ids), self._network
        )
        self._on_fired()
        return api.ResumeWorkflowRunResponse(run_id=run_id, node_ids=node_ids)

    def GetWorkflowRun(
        self, request: api.GetWorkflowRunRequest, context: Ctx
    ) -> api.GetWorkflowRunResponse:
        account = self._account()
        run = self._store.get_run(account, request.name, request.run_id)
        triggers = None
        if request.include_graph:
            triggers = run.graph
            if triggers is None:  # recorded before runs kept their graph
                triggers = self._store.workflow_triggers(account, request.name)
        return api.GetWorkflowRunResponse(run=run_to_proto(run, triggers))

    def GetWorkflowRuns(
        self, request: api.GetWorkflowRunsRequest, context: Ctx
    ) -> api.GetWorkflowRunsResponse:
        account = self._account()
        page = self._store.get_runs(
            account, request.name, page_request(request), job_runs=request.include_graph
        )
        current = None
        if request.include_graph and any(run.graph is None for run in page.items):
            current = self._store.workflow_triggers(account, request.name)
        return api.GetWorkflowRunsResponse(
            runs=[
                run_to_proto(run, (run.graph if run.graph is not None else current))
                for run in page.items
            ],
            next_token=page.next_token,
        )

    def StopWorkflowRun(
        self, request: api.StopWorkflowRunRequest, context: Ctx
    ) -> api.StopWorkflowRunResponse:
        account = self._account()
        workflow_name(request.name)
        for kind, name, run_id in self._store.stop_run(account, request.name, request.run_id):
            try:
                if kind == "job":
                    self._jobs.request_stop(account, name, run_id)
                elif self._stop_crawler is not None:
                    self._stop_crawler(account, name)
            except SluiceError:
                continue  # ended meanwhile (or already stopping)
        self._on_fired()
        return api.StopWorkflowRunResponse()

    def GetWorkflowRunProperties(
        self, request: api.GetWorkflowRunPropertiesRequest, context: Ctx
    ) -> api.GetWorkflowRunPropertiesResponse:
        properties = self._store.get_run_properties(self._account(), request.name, request.run_id)
        return api.GetWorkflowRunPropertiesResponse(run_properties=properties)

    def PutWorkflowRunProperties(
        self, request: api.PutWorkflowRunPropertiesRequest, context: Ctx
    ) -> api.PutWorkflowRunPropertiesResponse:
        self._store.put_run_properties(
            self._account(), request.name, request.run_id, dict(request.run_properties)
        )
        return api.PutWorkflowRunPropertiesResponse()
