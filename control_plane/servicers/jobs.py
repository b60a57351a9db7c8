"""The JobService servicer: convert, call the job store, respond.

Beyond that it does what a store cannot: CreateJob, UpdateJob and StartJobRun check that the
caller may pass the job's role (sluice:PassRole) and that its script comes from an allowed
source; StartJobRun resolves the job's connection in the catalog (it gives the run's subnet and
security group); and TailJobRunLogs and WatchJobRun poll the store to stream a run's logs and
state changes (a read of one row per interval, so any replica on the database sees any
scheduler's changes). Errors are the stores' domain errors; the error interceptor turns them
into statuses.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TypeAlias

import grpc

from sluice.catalog.core.store.base import CatalogStore
from sluice.common.errors import (
    AccessDenied,
    EntityNotFound,
    FailedPrecondition,
    InvalidInput,
    Unauthenticated,
)
from sluice.common.limits import max_items_of
from sluice.common.paging import PageRequest
from sluice.control_plane.audit.tracing import current_traceparent
from sluice.control_plane.codegen import nodes as visual
from sluice.control_plane.convert.common import required
from sluice.control_plane.convert.jobs import (
    job_input_from_create,
    job_input_from_update,
    job_run_to_proto,
    job_to_proto,
    log_entry_to_proto,
    log_stream_from_proto,
    page_request,
    pool_status_to_proto,
    run_input_from_proto,
    run_state_to_proto,
    stop_error_to_proto,
    stop_submission_to_proto,
)
from sluice.control_plane.jobs import checks
from sluice.control_plane.jobs.executor import PoolSnapshot, queue_of
from sluice.control_plane.jobs.log_arrivals import LogArrivals
from sluice.control_plane.jobs.model import Job, JobInput, JobRun, LogEntry, LogStream
from sluice.control_plane.jobs.scripts import (
    UPLOADED_PREFIX,
    ScriptSources,
    parse_script_location,
    uploaded_location,
)
from sluice.control_plane.jobs.store import JobStore
from sluice.control_plane.security.actions import operation
from sluice.control_plane.security.calls import current_call
from sluice.control_plane.security.roles import CallerPassesRole, RolePassing
from sluice.jobs.v1 import jobs_pb2 as api
from sluice.jobs.v1 import jobs_pb2_grpc

Ctx: TypeAlias = grpc.ServicerContext

MAX_STOP_BATCH = max_items_of("BatchStopJobRun")
# Entries read from the store per query while tailing.
TAIL_PAGE_SIZE = 100
# Message bytes per TailJobRunLogs response, well under the server's message limit (one log
# line is at most 256 Ki characters, so at most 1 MiB).
TAIL_RESPONSE_BYTES = 1024 * 1024
# Errors that make one run of a BatchStopJobRun fail, as Glue reports them per run.
_STOP_ERRORS = (EntityNotFound, InvalidInput, FailedPrecondition)
_UPLOAD_SCRIPT = operation("/sluice.jobs.v1.JobService/UploadScript")


class JobServicer(jobs_pb2_grpc.JobServiceServicer):
    """Serves sluice.jobs.v1.JobService from a JobStore, for one account.

    Args:
        store: Where jobs, runs, logs and scripts are kept.
        catalog: The Data Catalog, to resolve the connections a job names.
        account: The account (catalog id) every call acts as, until callers authenticate.
        on_run_started: Called when runs need the scheduler's attention at once (a run was
            started, or runs were asked to stop); it must not block.
        pool_status: The warm pool as it is now, for GetPoolStatus.
        tail_poll_interval_s: How often TailJobRunLogs looks for new log entries.
        watch_poll_interval_s: How often WatchJobRun looks at the run it follows.
        roles: Whether the caller may pass the role a job names (the caller's policies by
            default; every role on a server without authentication).
        scripts: Where job scripts may come from (uploads only by default).
        authorise_script_writes: Whether the script a visual job's CreateJob or UpdateJob
            uploads needs the caller's sluice:UploadScript on it, as UploadScript would (False
            only on a server without authentication, where there is no caller).
        log_arrivals: What wakes TailJobRunLogs when this server's scheduler stores lines
            (none by default: it looks every tail_poll_interval_s).
    """

    def __init__(
        self,
        store: JobStore,
        catalog: CatalogStore,
        *,
        account: str,
        on_run_started: Callable[[], None],
        pool_status: Callable[[], PoolSnapshot],
        tail_poll_interval_s: float = 0.2,
        watch_poll_interval_s: float = 0.25,
        roles: RolePassing | None = None,
        scripts: ScriptSources | None = None,
        authorise_script_writes: bool = True,
        log_arrivals: LogArrivals | None = None,
    ) -> None:
        if not account:
            raise ValueError("account must not be empty")
        if tail_poll_interval_s <= 0 or watch_poll_interval_s <= 0:
            raise ValueError("tail_poll_interval_s and watch_poll_interval_s must be positive")
        self._store = store
        self._catalog = catalog
        self._account_id = account
        self._on_run_started = on_run_started
        self._pool_status = pool_status
        self._tail_poll_interval_s = tail_poll_interval_s
        self._watch_poll_interval_s = watch_poll_interval_s
        self._roles = roles or CallerPassesRole()
        self._scripts = scripts or ScriptSources()
        self._authorise_script_writes = authorise_script_writes
        self._log_arrivals = log_arrivals or LogArrivals()

    def _account(self, context: Ctx) -> str:
        """The account the call acts in: the authenticated caller's (see the auth
        interceptor); the configured one for a server without authentication."""
        info = current_call()
        if info is not None and info.account:
            return info.account
        return self._account_id

    # Jobs

    def _checked(self, job_input: JobInput) -> JobInput:
        """job_input, once its script source is allowed and the caller may pass its role."""
        self._scripts.check(job_input.command.script_location)
        # An empty role is the store's InvalidInput, not a role to pass.
        if job_input.role:
            self._roles.check(job_input.role)
        return job_input

    def _visual(self, job_input: JobInput) -> tuple[JobInput, str, bytes]:
        """A visual job's input with its script location, the uploaded script's name and its
        generated text ("" and b"" for a job that is not a visual one).

        Raises:
            InvalidInput: a node that is wrong (named), a --job-language other than python, or
                a script location that is not an uploaded one (the script is generated, so it
                is uploaded).
        """
        if not job_input.code_gen_configuration_nodes:
            return job_input, "", b""
        visual.checked_job_language(job_input.default_arguments)
        content = visual.script_of(job_input.code_gen_configuration_nodes).encode()
        location = job_input.command.script_location
        if not location:
            location = uploaded_location(f"{checks.job_name(job_input.name)}.py")
        elif not location.startswith(UPLOADED_PREFIX):
            raise InvalidInput(
                "a visual job's script is generated from its CodeGenConfigurationNodes and "
                f"uploaded: Command.ScriptLocation must be {UPLOADED_PREFIX}NAME or empty, "
                f"not {location!r}"
            )
        name = parse_script_location(location).uploaded_name
        self._check_script_write(name)
        command = dataclasses.replace(job_input.command, script_location=location)
        return dataclasses.replace(job_input, command=command), name, content

    def _check_script_write(self, name: str) -> None:
        """Returns when the caller may upload script `name` (a visual job's script replaces
        it: the same right as UploadScript's, so CreateJob cannot overwrite other jobs' scripts
        for a caller who may not upload them)."""
        if not self._authorise_script_writes:
            return
        info = current_call()
        if info is None or info.principal is None or info.authorizer is None:
            raise Unauthenticated("the call is not authenticated")
        request = api.UploadScriptRequest(name=name)
        resource = _UPLOAD_SCRIPT.resource(info.account or info.principal.account, request)
        if not info.authorizer(_UPLOAD_SCRIPT.action, resource):
            info.denied_reason = f"not allowed by policy ({_UPLOAD_SCRIPT.action})"
            raise AccessDenied(
                f"{info.principal.name} is not authorized to perform {_UPLOAD_SCRIPT.action} "
                f"on {resource} (a visual job's generated script is uploaded there)"
            )

    def CreateJob(self, request: api.CreateJobRequest, context: Ctx) -> api.CreateJobResponse:
        job_input, script_name, content = self._visual(job_input_from_create(request))
        job_input = self._checked(job_input)
        account = self._account(context)
        job = self._store.create_job(account, job_input)
        if script_name:
            # After the job is made: a CreateJob refused (a name taken) replaces no script.
            self._store.put_script(account, script_name, content)
        return api.CreateJobResponse(name=job.name)

    def GetJob(self, request: api.GetJobRequest, context: Ctx) -> api.GetJobResponse:
        job = self._store.get_job(self._account(context), request.job_name)
        return api.GetJobResponse(job=job_to_proto(job))

    def GetJobs(self, request: api.GetJobsRequest, context: Ctx) -> api.GetJobsResponse:
        page = self._store.get_jobs(self._account(context), page_request(request))
        return api.GetJobsResponse(
            jobs=[job_to_proto(job) for job in page.items], next_token=page.next_token
        )

    def ListJobs(self, request: api.ListJobsRequest, context: Ctx) -> api.ListJobsResponse:
        page = self._store.list_job_names(
            self._account(context), page_request(request), dict(request.tags)
        )
        return api.ListJobsResponse(job_names=list(page.items), next_token=page.next_token)

    def UpdateJob(self, request: api.UpdateJobRequest, context: Ctx) -> api.UpdateJobResponse:
        job_input, script_name, content = self._visual(
            job_input_from_update(request.job_name, required(request, "job_update"))
        )
        job_input = self._checked(job_input)
        account = self._account(context)
        job = self._store.update_job(account, job_input)
        if script_name:
            self._store.put_script(account, script_name, content)
        return api.UpdateJobResponse(job_name=job.name)

    def DeleteJob(self, request: api.DeleteJobRequest, context: Ctx) -> api.DeleteJobResponse:
        self._store.delete_job(self._account(context), request.job_name)
        # Its active runs are now STOPPING: the scheduler stops them.
        self._on_run_started()
        return api.DeleteJobResponse(job_name=request.job_name)

    def UploadScript(
        self, request: api.UploadScriptRequest, context: Ctx
    ) -> api.UploadScriptResponse:
        location = self._store.put_script(self._account(context), request.name, request.content)
        return api.UploadScriptResponse(script_location=location)

    # Runs

    def StartJobRun(self, request: api.StartJobRunRequest, context: Ctx) -> api.StartJobRunResponse:
        account = self._account(context)
        job = self._store.get_job(account, request.job_name)
        # The runs act as the job's role: starting one passes it.
        self._roles.check(job.role)
        subnet_id, security_group_id = self._network(account, job)
        run = self._store.create_run(
            account,
            job.name,
            run_input_from_proto(
                request,
                subnet_id=subnet_id,
                security_group_id=security_group_id,
                trace_parent=current_traceparent(),
                expected_role=job.role,
            ),
        )
        self._on_run_started()
        return api.StartJobRunResponse(job_run_id=run.id)

    def _network(self, account: str, job: Job) -> tuple[str, str]:
        """The subnet and security group of a job's runs: its first connection's, as in Glue."""
        if not job.connections:
            return "", ""
        name = job.connections[0]
        try:
            connection = self._catalog.get_connection(account, name)
        except EntityNotFound:
            raise EntityNotFound(
                f"Connection {name} of job {job.name} not found", connection_name=name
            ) from None
        requirements = connection.physical_connection_requirements
        if requirements is None:
            return "", ""
        groups = requirements.security_group_id_list
        return requirements.subnet_id, groups[0] if groups else ""

    def GetJobRun(self, request: api.GetJobRunRequest, context: Ctx) -> api.GetJobRunResponse:
        run = self._store.get_run(self._account(context), request.job_name, request.run_id)
        return api.GetJobRunResponse(job_run=job_run_to_proto(run))

    def GetJobRuns(self, request: api.GetJobRunsRequest, context: Ctx) -> api.GetJobRunsResponse:
        page = self._store.get_runs(self._account(context), request.job_name, page_request(request))
        return api.GetJobRunsResponse(
            job_runs=[job_run_to_proto(run) for run in page.items], next_token=page.next_token
        )

    def BatchStopJobRun(
        self, request: api.BatchStopJobRunRequest, context: Ctx
    ) -> api.BatchStopJobRunResponse:
        account = self._account(context)
        run_ids = list(request.job_run_ids)
        if not 1 <= len(run_ids) <= MAX_STOP_BATCH:
            raise InvalidInput(f"job_run_ids must name 1 to {MAX_STOP_BATCH} job runs")
        response = api.BatchStopJobRunResponse()
        for run_id in run_ids:
            try:
                self._store.request_stop(account, request.job_name, run_id)
            except _STOP_ERRORS as error:
                response.errors.append(stop_error_to_proto(request.job_name, run_id, error))
            else:
                response.successful_submissions.append(
                    stop_submission_to_proto(request.job_name, run_id)
                )
        if response.successful_submissions:
            self._on_run_started()
        return response

    # Logs

    def GetJobRunLogs(
        self, request: api.GetJobRunLogsRequest, context: Ctx
    ) -> api.GetJobRunLogsResponse:
        page = self._store.get_run_logs(
            self._account(context),
            request.job_name,
            request.run_id,
            page_request(request),
            stream=log_stream_from_proto(request.stream),
        )
        return api.GetJobRunLogsResponse(
            entries=[log_entry_to_proto(entry) for entry in page.items],
            next_token=page.next_token,
        )

    def TailJobRunLogs(
        self, request: api.TailJobRunLogsRequest, context: Ctx
    ) -> Iterator[api.TailJobRunLogsResponse]:
        """Log entries as they are stored, each response with the run's state then.

        Ends once the run is terminal and a look one interval later finds no new entries (a
        run that times out has its last lines stored after it ended), or when the client goes.
        """
        account = self._account(context)
        stream = log_stream_from_proto(request.stream)
        after_seq = 0
        last_state: int | None = None
        terminal_seen = False
        # Woken as soon as this server's scheduler stores lines of the run; else (the lease
        # held by another server) a look every interval.
        with self._log_arrivals.follow(request.run_id) as follower:
            context.add_callback(follower.cancel)
            while context.is_active() and not follower.cancelled:
                # The state is read before the logs: the scheduler stores a run's lines before
                # it ends it, so lines read after a terminal state include all of those.
                run = self._store.get_run(account, request.job_name, request.run_id)
                state = run_state_to_proto(run.state)
                sent = False
                for entries in self._new_entries(account, request, stream, after_seq):
                    after_seq = entries[-1].seq
                    sent = True
                    yield api.TailJobRunLogsResponse(
                        entries=[log_entry_to_proto(entry) for entry in entries],
                        job_run_state=state,
                    )
                if not sent and state != last_state:
                    yield api.TailJobRunLogsResponse(job_run_state=state)
                last_state = state
                if run.state.is_terminal():
                    if terminal_seen and not sent:
                        return
                    terminal_seen = True
                follower.wait(self._tail_poll_interval_s)

    def _new_entries(
        self,
        account: str,
        request: api.TailJobRunLogsRequest,
        stream: LogStream | None,
        after_seq: int,
    ) -> Iterator[Sequence[LogEntry]]:
        """Every stored entry past after_seq, in response-sized chunks."""
        while True:
            page = self._store.get_run_logs(
                account,
                request.job_name,
                request.run_id,
                PageRequest(max_results=TAIL_PAGE_SIZE),
                stream=stream,
                after_seq=after_seq,
            )
            if not page.items:
                return
            yield from _chunks(page.items, TAIL_RESPONSE_BYTES)
            if not page.next_token:
                return
            after_seq = page.items[-1].seq

    def WatchJobRun(
        self, request: api.WatchJobRunRequest, context: Ctx
    ) -> Iterator[api.WatchJobRunResponse]:
        """The run now, then each time what a watcher sees of it changes; ends once it is
        finished (or when the client goes). One call, however long the run takes."""
        account = self._account(context)
        gone = threading.Event()
        context.add_callback(gone.set)
        seen: tuple[object, ...] | None = None
        while context.is_active():
            run = self._store.get_run(account, request.job_name, request.run_id)
            shown = _what_shows(run)
            if shown != seen:
                seen = shown
                yield api.WatchJobRunResponse(job_run=job_run_to_proto(run))
            if run.state.is_terminal():
                return
            gone.wait(self._watch_poll_interval_s)

    # The warm pool

    def GetPoolStatus(
        self, request: api.GetPoolStatusRequest, context: Ctx
    ) -> api.GetPoolStatusResponse:
        snapshot = dataclasses.replace(
            self._pool_status(), queue=queue_of(self._store.list_active_runs())
        )
        info = current_call()
        principal = info.principal if info is not None else None
        # The operator (or a server without authentication) sees every sandbox; a caller of
        # an account only its own account's.
        if principal is not None and not principal.operator:
            snapshot = snapshot.seen_by(self._account(context))
        return api.GetPoolStatusResponse(pool_status=pool_status_to_proto(snapshot))


def _what_shows(run: JobRun) -> tuple[object, ...]:
    """What a watcher of a run sees change: its state, attempt, environment and error."""
    return (run.state, run.attempt, run.environment_id, run.warm_start, run.error_message)


def _chunks(entries: Sequence[LogEntry], budget: int) -> Iterator[Sequence[LogEntry]]:
    """entries split so each chunk's messages take at most budget bytes (one entry at least)."""
    chunk: list[LogEntry] = []
    size = 0
    for entry in entries:
        entry_size = len(entry.message.encode("utf-8", "surrogatepass"))
        if chunk and size + entry_size > budget:
            yield chunk
            chunk, size = [], 0
        chunk.append(entry)
        size += entry_size
    if chunk:
        yield chunk
