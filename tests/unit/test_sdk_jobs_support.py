"""A fake JobService on a real loopback port, for the jobs SDK and CLI tests (no tests here).

The servicer keeps jobs, runs, scripts and logs in memory. A run moves one step along its
job's plan of states each time GetJobRun reads it or WatchJobRun looks at it, so a waiter sees
it progress without any clock. Errors carry a google.rpc.ErrorInfo, as the real server's do.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field

import grpc
from google.protobuf import any_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from sluice.jobs.v1 import jobs_pb2, jobs_pb2_grpc, types_pb2

STARTING, RUNNING, SUCCEEDED, FAILED, STOPPING, STOPPED = (
    types_pb2.JOB_RUN_STATE_STARTING,
    types_pb2.JOB_RUN_STATE_RUNNING,
    types_pb2.JOB_RUN_STATE_SUCCEEDED,
    types_pb2.JOB_RUN_STATE_FAILED,
    types_pb2.JOB_RUN_STATE_STOPPING,
    types_pb2.JOB_RUN_STATE_STOPPED,
)
TERMINAL = {
    STOPPED,
    SUCCEEDED,
    FAILED,
    types_pb2.JOB_RUN_STATE_TIMEOUT,
    types_pb2.JOB_RUN_STATE_ERROR,
}
DEFAULT_PAGE = 3
STDOUT, STDERR, DRIVER = (
    types_pb2.LOG_STREAM_STDOUT,
    types_pb2.LOG_STREAM_STDERR,
    types_pb2.LOG_STREAM_DRIVER,
)


class Abort(Exception):
    """Raised inside a handler to fail the call with a rich status."""

    def __init__(self, code: grpc.StatusCode, message: str, reason: str) -> None:
        super().__init__(message)
        self.code, self.message, self.reason = code, message, reason


def not_found(message: str) -> Abort:
    return Abort(grpc.StatusCode.NOT_FOUND, message, "EntityNotFoundException")


@dataclass
class TailStep:
    """One message of a TailJobRunLogs stream, sent after waiting for `after` to be set."""

    entries: Sequence[tuple[int, str]] = ()
    state: int = 0
    after: threading.Event | None = None


@dataclass
class FakeJobService(jobs_pb2_grpc.JobServiceServicer):
    """An in-memory JobService. Tests set `plans`, `logs`, `tails` and `failures`."""

    jobs: dict[str, types_pb2.Job] = field(default_factory=dict)
    scripts: dict[str, bytes] = field(default_factory=dict)
    runs: dict[str, types_pb2.JobRun] = field(default_factory=dict)
    # Job name -> the states its runs go through, one per GetJobRun; the last one stays.
    plans: dict[str, list[int]] = field(default_factory=dict)
    # Job name -> error message of its runs that end FAILED.
    errors: dict[str, str] = field(default_factory=dict)
    # Job name -> (stream, message) log entries of each of its runs.
    logs: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    # Run id -> the messages its TailJobRunLogs stream sends.
    tails: dict[str, list[TailStep]] = field(default_factory=dict)
    # Method name -> an error every call of it fails with.
    failures: dict[str, Abort] = field(default_factory=dict)
    # Run ids BatchStopJobRun leaves out of its answer, as a faulty server might.
    unreported: set[str] = field(default_factory=set)
    pool: types_pb2.PoolStatus = field(default_factory=types_pb2.PoolStatus)
    calls: list[tuple[str, object, dict[str, str]]] = field(default_factory=list)
    tail_cancelled: threading.Event = field(default_factory=threading.Event)
    # How many WatchJobRun streams break (UNAVAILABLE) after their first response.
    watch_breaks: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _steps: dict[str, int] = field(default_factory=dict)

    def requests(self, method: str) -> list[object]:
        return [request for name, request, _ in self.calls if name == method]

    def _enter(self, method: str, request: object, context: grpc.ServicerContext) -> None:
        metadata = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
        with self._lock:
            self.calls.append((method, request, metadata))
        failure = self.failures.get(method)
        if failure is not None:
            raise failure

    def _job(self, name: str) -> types_pb2.Job:
        job = self.jobs.get(name)
        if job is None:
            raise not_found(f"Job {name} not found")
        return job

    def _run(self, job_name: str, run_id: str) -> types_pb2.JobRun:
        self._job(job_name)
        run = self.runs.get(run_id)
        if run is None or run.job_name != job_name:
            raise not_found(f"Job run {run_id} of job {job_name} not found")
        return run

    # Jobs

    def CreateJob(
        self, request: jobs_pb2.CreateJobRequest, context: grpc.ServicerContext
    ) -> jobs_pb2.CreateJobResponse:
        with _failing(context):
            self._enter("CreateJob", request, context)
            if request.name in self.jobs:
                raise Abort(
                    grpc.StatusCode.ALREADY_EXISTS,
                    f"Job {request.name} already exists",
                    "AlreadyExistsException",
                )
            job = types_pb2.Job(created_on=_now(), last_modified_on=_now())
            _copy_shared(request, job)
            self.jobs[request.name] = job
            return jobs_pb2.CreateJobResponse(name=request.name)

    def GetJob(
        self, request: jobs_pb2.GetJobRequest, context: grpc.ServicerContext
    ) -> jobs_pb2.GetJobResponse:
        with _failing(context):
            self._enter("GetJob", request, context)
            return jobs_pb2.GetJobResponse(job=self._job(request.job_name))

    def GetJobs(
        self, request: jobs_pb2.GetJobsRequest, context: grpc.ServicerContext
    ) -> jobs_pb2.GetJobsResponse:
        with _failing(context):
            self._enter("GetJobs", request, context)
            page, token = _page(sorted(self.jobs), request.next_token, request.max_results)
            return jobs_pb2.GetJobsResponse(jobs=[self.jobs[n] for n in page], next_token=token)

    def ListJobs(
        self, request: jobs_pb2.ListJobsRequest, context: grpc.ServicerContext
    ) -> jobs_pb2.ListJobsResponse:
        with _failing(context):
            self._enter("ListJobs", request, context)
            wanted = dict(request.tags)
            names = sorted(
                name
                for name, job in self.jobs.items()
                if all(job.tags.get(k) == v for k, v in wanted.items())
            )
            page, token = _page(names, request.next_token, request.max_results)
            return jobs_pb2.ListJobsResponse(job_names=page, next_token=token)

    def UpdateJob(
        self, request: jobs_pb2.UpdateJobRequest, context: grpc.ServicerContext
    ) -> jobs_pb2.UpdateJobResponse:
        with _failing(context):
            self._enter("UpdateJob", request, context)
            current = self._job(request.job_name)
            job = types_pb2.Job(
                name=current.name,
                tags=current.tags,
                created_on=current.created_on,
                last_modified_on=_now(),
            )
            _copy_shared(request.job_update, job)
            self.jobs[request.job_name] = job
            return jobs_pb2.UpdateJobResponse(job_name=request.job_name)

    def DeleteJob(
        self, request: jobs_pb2.DeleteJobRequest, context: grpc.ServicerContext
    ) -> jobs_pb2.DeleteJobResponse:
        with _failing(context):
            self._enter("DeleteJob", request, context)
            self.jobs.pop(request.job_name, None)
            return jobs_pb2.DeleteJobResponse(job_name=request.job_name)

    def UploadScript(
        self, request: jobs_pb2.UploadScriptRequest, context: grpc.ServicerContext
    ) -> jobs_pb2.UploadScriptResponse:
        with _failing(context):
            self._enter("UploadScript", request, context)
            self.scripts[request.name] = request.content
            return jobs_pb2.UploadScriptResponse(script_location=f"sluice://scripts/{request.name}")

    # Runs

    def StartJobRun(
        self, request: jobs_pb2.StartJobRunRequest, context: grpc.ServicerContext
    ) -> jobs_pb2.StartJobRunResponse:
        with _failing(context):
            self._enter("StartJobRun", request, context)
            job = self._job(request.job_name)
            active = sum(
                1
                for r in self.runs.values()
                if r.job_name == job.name and r.job_run_state not in TERMINAL
            )
            if active >= (job.execution_property.max_concurrent_runs or 1):
                raise Abort(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"Job {job.name} already has {active} concurrent run(s)",
                    "ConcurrentRunsExceededException",
                )
            run_id = f"jr_{next(self._ids):04d}"
            self.runs[run_id] = types_pb2.JobRun(
                id=run_id,
                job_name=job.name,
                job_run_state=STARTING,
                started_on=_now(),
                arguments={**job.default_arguments, **request.arguments},
                timeout=request.timeout or job.timeout,
                worker_type=request.worker_type or job.worker_type,
                number_of_workers=request.number_of_workers or job.number_of_workers,
                previous_run_id=request.job_run_id,
            )
            return jobs_pb2.StartJobRunResponse(job_run_id=run_id)

    def GetJobRun(
        self, request: jobs_pb2.GetJobRunRequest, context: grpc.ServicerContext
    ) -> jobs_pb2.GetJobRunResponse:
        with _failing(context):
            self._enter("GetJobRun", request, context)
            run = self._run(request.job_name, request.run_id)
            self._advance(run)
            return jobs_pb2.GetJobRunResponse(job_run=run)

    def WatchJobRun(
        self, request: jobs_pb2.WatchJobRunRequest, context: grpc.ServicerContext
    ) -> Iterator[jobs_pb2.WatchJobRunResponse]:
        with _failing(context):
            self._enter("WatchJobRun", request, context)
            run = self._run(request.job_name, request.run_id)
            sent: tuple[object, ...] | None = None
            while context.is_active():
                self._advance(run)
                shown = (run.job_run_state, run.environment_id, run.error_message)
                if shown != sent:
                    sent = shown
                    yield jobs_pb2.WatchJobRunResponse(job_run=run)
                    with self._lock:
                        breaks, self.watch_breaks = self.watch_breaks, max(0, self.watch_breaks - 1)
                    if breaks:
                        raise Abort(
                            grpc.StatusCode.UNAVAILABLE, "connection reset", "ServiceUnavailable"
                        )
                if run.job_run_state in TERMINAL:
                    return
                time.sleep(0.005)

    def _advance(self, run: types_pb2.JobRun) -> None:
        """Moves run one step along its job's plan, if it has one and has not finished."""
        plan = self.plans.get(run.job_name)
        if plan and run.job_run_state not in TERMINAL:
            step = self._steps.get(run.id, 0)
            self._steps[run.id] = step + 1
            self._move(run, plan[min(step, len(plan) - 1)])

    def _move(self, run: types_pb2.JobRun, state: int) -> None:
        run.job_run_state = state
        if state == RUNNING:
            run.environment_id = "env-7"
            run.warm_start = True
        if state in TERMINAL:
            run.completed_on.CopyFrom(_now())
            run.execution_time = 2
            if state == FAILED:
                run.error_message = self.errors.get(run.job_name, "")

    def GetJobRuns(
        self, request: jobs_pb2.GetJobRunsRequest, context: grpc.ServicerContext
    ) -> jobs_pb2.GetJobRunsResponse:
        with _failing(context):
            self._enter("GetJobRuns", request, context)
            self._job(request.job_name)
            ids = sorted(r.id for r in self.runs.values() if r.job_name == request.job_name)
            page, token = _page(ids[::-1], request.next_token, request.max_results)
            return jobs_pb2.GetJobRunsResponse(
                job_runs=[self.runs[i] for i in page], next_token=token
            )

    def BatchStopJobRun(
        self, request: jobs_pb2.BatchStopJobRunRequest, context: grpc.ServicerContext
    ) -> jobs_pb2.BatchStopJobRunResponse:
        with _failing(context):
            self._enter("BatchStopJobRun", request, context)
            response = jobs_pb2.BatchStopJobRunResponse()
            for run_id in request.job_run_ids:
                if run_id in self.unreported:
                    continue
                run = self.runs.get(run_id)
                if run is None or run.job_name != request.job_name:
                    code, message = "EntityNotFoundException", f"Job run {run_id} not found"
                elif run.job_run_state in TERMINAL:
                    code, message = "InvalidStateException", f"Job run {run_id} has finished"
                else:
                    run.job_run_state = STOPPING
                    response.successful_submissions.add(
                        job_name=request.job_name, job_run_id=run_id
                    )
                    continue
                response.errors.add(
                    job_name=request.job_name,
                    job_run_id=run_id,
                    error_detail=types_pb2.ErrorDetail(error_code=code, error_message=message),
                )
            return response

    def GetJobRunLogs(
        self, request: jobs_pb2.GetJobRunLogsRequest, context: grpc.ServicerContext
    ) -> jobs_pb2.GetJobRunLogsResponse:
        with _failing(context):
            self._enter("GetJobRunLogs", request, context)
            run = self._run(request.job_name, request.run_id)
            entries = [
                types_pb2.LogEntry(stream=stream, message=message, timestamp=_now())
                for stream, message in self.logs.get(run.job_name, [])
                if request.stream in (0, stream)
            ]
            page, token = _page(entries, request.next_token, request.max_results)
            return jobs_pb2.GetJobRunLogsResponse(entries=page, next_token=token)

    def TailJobRunLogs(
        self, request: jobs_pb2.TailJobRunLogsRequest, context: grpc.ServicerContext
    ) -> Iterator[jobs_pb2.TailJobRunLogsResponse]:
        with _failing(context):
            self._enter("TailJobRunLogs", request, context)
            self._run(request.job_name, request.run_id)
            context.add_callback(self.tail_cancelled.set)
            for step in self.tails.get(request.run_id, []):
                if step.after is not None:
                    while not step.after.wait(0.01):
                        if not context.is_active():
                            return
                yield jobs_pb2.TailJobRunLogsResponse(
                    entries=[
                        types_pb2.LogEntry(stream=stream, message=message, timestamp=_now())
                        for stream, message in step.entries
                        if request.stream in (0, stream)
                    ],
                    job_run_state=step.state,
                )

    def GetPoolStatus(
        self, request: jobs_pb2.GetPoolStatusRequest, context: grpc.ServicerContext
    ) -> jobs_pb2.GetPoolStatusResponse:
        with _failing(context):
            self._enter("GetPoolStatus", request, context)
            return jobs_pb2.GetPoolStatusResponse(pool_status=self.pool)


@contextmanager
def _failing(context: grpc.ServicerContext) -> Iterator[None]:
    """Turns an Abort raised by a handler into a rich status, as the real interceptor does."""
    try:
        yield
    except Abort as exc:
        info = any_pb2.Any()
        info.Pack(error_details_pb2.ErrorInfo(reason=exc.reason, domain="sluice"))
        context.abort_with_status(
            rpc_status.to_status(
                status_pb2.Status(code=exc.code.value[0], message=exc.message, details=[info])
            )
        )


def _copy_shared(source: object, target: types_pb2.Job) -> None:
    for descriptor, value in source.ListFields():  # type: ignore[attr-defined]
        if descriptor.name not in types_pb2.Job.DESCRIPTOR.fields_by_name:
            continue
        if descriptor.message_type is not None and descriptor.message_type.GetOptions().map_entry:
            if descriptor.message_type.fields_by_name["value"].message_type is not None:
                for key, item in value.items():  # message values cannot be assigned
                    getattr(target, descriptor.name)[key].CopyFrom(item)
            else:
                getattr(target, descriptor.name).update(value)
        elif descriptor.message_type is not None:
            getattr(target, descriptor.name).CopyFrom(value)
        else:
            setattr(target, descriptor.name, value)


def _page(items: Sequence, token: str, max_results: int) -> tuple[list, str]:
    start = int(token or 0)
    end = start + (max_results or DEFAULT_PAGE)
    return list(items[start:end]), str(end) if end < len(items) else ""


def _now() -> Timestamp:
    stamp = Timestamp()
    stamp.GetCurrentTime()
    return stamp


@dataclass
class Served:
    service: FakeJobService
    address: str


@contextmanager
def serving(service: FakeJobService | None = None) -> Iterator[Served]:
    """The service on 127.0.0.1 at a free port, for the duration of the block."""
    service = service or FakeJobService()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    jobs_pb2_grpc.add_JobServiceServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield Served(service, f"127.0.0.1:{port}")
    finally:
        server.stop(grace=None)
