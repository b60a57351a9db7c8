"""Jobs, job runs, run logs and the warm pool: sluice.jobs.v1 messages ⇄ domain objects.

Enums and worker types are checked here, so a bad value is an InvalidInput naming the field
before the store is called; everything else is validated by the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Protocol

from google.protobuf import json_format
from google.protobuf.message import Message

from sluice.common.errors import InvalidInput, SluiceError
from sluice.common.limits import max_results_of
from sluice.common.paging import PageRequest
from sluice.control_plane.convert.common import call_name, map_field, params, required, timestamp
from sluice.control_plane.jobs import workers
from sluice.control_plane.jobs.executor import PoolSnapshot
from sluice.control_plane.jobs.model import (
    CommandName,
    Job,
    JobCommand,
    JobInput,
    JobRun,
    LogEntry,
    LogStream,
    RunInput,
    RunState,
)
from sluice.jobs.v1 import jobs_pb2 as api
from sluice.jobs.v1 import types_pb2 as pb

_RUN_STATES: Mapping[RunState, pb.JobRunState.ValueType] = MappingProxyType(
    {
        RunState.STARTING: pb.JOB_RUN_STATE_STARTING,
        RunState.RUNNING: pb.JOB_RUN_STATE_RUNNING,
        RunState.STOPPING: pb.JOB_RUN_STATE_STOPPING,
        RunState.STOPPED: pb.JOB_RUN_STATE_STOPPED,
        RunState.SUCCEEDED: pb.JOB_RUN_STATE_SUCCEEDED,
        RunState.FAILED: pb.JOB_RUN_STATE_FAILED,
        RunState.TIMEOUT: pb.JOB_RUN_STATE_TIMEOUT,
        RunState.ERROR: pb.JOB_RUN_STATE_ERROR,
        RunState.WAITING: pb.JOB_RUN_STATE_WAITING,
    }
)
_RUN_STATES_BY_PROTO: Mapping[int, RunState] = MappingProxyType(
    {value: state for state, value in _RUN_STATES.items()}
)
_LOG_STREAMS: Mapping[LogStream, pb.LogStream.ValueType] = MappingProxyType(
    {
        LogStream.STDOUT: pb.LOG_STREAM_STDOUT,
        LogStream.STDERR: pb.LOG_STREAM_STDERR,
        LogStream.DRIVER: pb.LOG_STREAM_DRIVER,
    }
)
_LOG_STREAMS_BY_PROTO: Mapping[int, LogStream] = MappingProxyType(
    {value: stream for stream, value in _LOG_STREAMS.items()}
)


# Enums


def run_state_to_proto(state: RunState) -> pb.JobRunState.ValueType:
    """The API value of a run state."""
    return _RUN_STATES[RunState(state)]


def run_state_from_proto(value: int) -> RunState:
    """The run state of an API value; InvalidInput for UNSPECIFIED or a value we do not know."""
    try:
        return _RUN_STATES_BY_PROTO[value]
    except KeyError:
        raise InvalidInput(f"job_run_state {value} is not a job run state") from None


def log_stream_to_proto(stream: LogStream) -> pb.LogStream.ValueType:
    """The API value of a log stream."""
    return _LOG_STREAMS[LogStream(stream)]


def log_stream_from_proto(value: int) -> LogStream | None:
    """The stream a log request asks for; None (every stream) when unset.

    InvalidInput for a value this server does not know (a newer client's, or garbage).
    """
    if value == pb.LOG_STREAM_UNSPECIFIED:
        return None
    try:
        return _LOG_STREAMS_BY_PROTO[value]
    except KeyError:
        raise InvalidInput(f"stream {value} is not a log stream") from None


def command_name_from_proto(value: str) -> CommandName:
    """glueetl or pythonshell; empty means glueetl, which is what Glue assumes."""
    if not value:
        return CommandName.GLUEETL
    try:
        return CommandName(value)
    except ValueError:
        allowed = ", ".join(str(c) for c in CommandName)
        raise InvalidInput(f"command.name {value!r} is not one of {allowed}") from None


def _worker_type(value: str) -> str:
    # "" stays "": it means "the default" for a job and "the job's" for a run.
    return value and workers.checked_worker_type(value)


# Paging


class _Paged(Protocol):
    """Every jobs list request pages with these two fields."""

    next_token: str
    max_results: int


def page_request(request: _Paged) -> PageRequest:
    """The PageRequest of a jobs list call (they have no segment, unlike the catalog's)."""
    return PageRequest(
        max_results=request.max_results,
        next_token=request.next_token,
        max_allowed=max_results_of(call_name(request)),  # type: ignore[arg-type]
    )


# Jobs


def job_command_from_proto(message: pb.JobCommand) -> JobCommand:
    return JobCommand(
        name=command_name_from_proto(message.name),
        script_location=message.script_location,
        python_version=message.python_version,
    )


def job_command_to_proto(command: JobCommand) -> pb.JobCommand:
    return pb.JobCommand(
        name=str(command.name),
        script_location=command.script_location,
        python_version=command.python_version,
    )


def _max_concurrent_runs(message: api.CreateJobRequest | pb.JobUpdate) -> int:
    # Unset means 0, which the store turns into Glue's default of 1.
    if not message.HasField("execution_property"):
        return 0
    return message.execution_property.max_concurrent_runs


def _connections(message: api.CreateJobRequest | pb.JobUpdate) -> tuple[str, ...]:
    if not message.HasField("connections"):
        return ()
    return tuple(message.connections.connections)


def job_input_from_create(request: api.CreateJobRequest) -> JobInput:
    """The JobInput of CreateJob. InvalidInput without a command, or with a bad enum value."""
    return JobInput(
        name=request.name,
        role=request.role,
        command=job_command_from_proto(required(request, "command")),
        description=request.description,
        default_arguments=params(request.default_arguments),
        non_overridable_arguments=params(request.non_overridable_arguments),
        max_retries=request.max_retries,
        timeout=request.timeout,
        max_concurrent_runs=_max_concurrent_runs(request),
        worker_type=_worker_type(request.worker_type),
        number_of_workers=request.number_of_workers,
        connections=_connections(request),
        tags=params(request.tags),
        glue_properties=glue_properties(request),
        code_gen_configuration_nodes=code_gen_nodes(request),
    )


def job_input_from_update(job_name: str, update: pb.JobUpdate) -> JobInput:
    """The JobInput of UpdateJob: the job's whole definition, without tags (not part of it)."""
    return JobInput(
        name=job_name,
        role=update.role,
        command=job_command_from_proto(required(update, "command")),
        description=update.description,
        default_arguments=params(update.default_arguments),
        non_overridable_arguments=params(update.non_overridable_arguments),
        max_retries=update.max_retries,
        timeout=update.timeout,
        max_concurrent_runs=_max_concurrent_runs(update),
        worker_type=_worker_type(update.worker_type),
        number_of_workers=update.number_of_workers,
        connections=_connections(update),
        glue_properties=glue_properties(update),
        code_gen_configuration_nodes=code_gen_nodes(update),
    )


# Glue members Sluice keeps and returns unchanged but has no machinery for (Terraform sets
# them): the same fields in CreateJobRequest, JobUpdate and Job, stored as JSON by field name.
GLUE_ONLY_FIELDS = (
    "log_uri",
    "max_capacity",
    "security_configuration",
    "notification_property",
    "glue_version",
    "execution_class",
    "job_mode",
    "job_run_queuing_enabled",
    "maintenance_window",
)


def glue_properties(message: Message) -> dict[str, object]:
    """The Glue-only members a request sets, as JSON values by field name."""
    kept: dict[str, object] = {}
    for field, value in message.ListFields():
        if field.name in GLUE_ONLY_FIELDS:
            kept[field.name] = (
                json_format.MessageToDict(value, preserving_proto_field_name=True)
                if field.message_type is not None
                else value
            )
    return kept


def code_gen_nodes(message: api.CreateJobRequest | pb.JobUpdate) -> dict[str, object]:
    """A visual job's nodes (CodeGenConfigurationNodes) as JSON values by node id."""
    return {
        node_id: whole_numbers(json_format.MessageToDict(node))
        for node_id, node in message.code_gen_configuration_nodes.items()
    }


def whole_numbers(value: Any) -> Any:
    """value with whole floats as integers (a Struct holds every number as a double; Glue's
    node members are integers: MaxBand 5 must come back as 5, not 5.0)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {key: whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [whole_numbers(item) for item in value]
    return value


def _set_glue_properties(message: Message, properties: Mapping[str, Any]) -> None:
    for name, value in properties.items():
        field = message.DESCRIPTOR.fields_by_name.get(name)
        if field is None:
            continue  # a member of a later version of Sluice
        if field.message_type is not None:
            json_format.ParseDict(value, getattr(message, name))
        else:
            setattr(message, name, value)


def job_to_proto(job: Job) -> pb.Job:
    message = pb.Job(
        name=job.name,
        description=job.description,
        role=job.role,
        command=job_command_to_proto(job.command),
        default_arguments=map_field(job.default_arguments),
        non_overridable_arguments=map_field(job.non_overridable_arguments),
        max_retries=job.max_retries,
        timeout=job.timeout,
        execution_property=pb.ExecutionProperty(max_concurrent_runs=job.max_concurrent_runs),
        worker_type=job.worker_type,
        number_of_workers=job.number_of_workers,
        # Glue leaves Connections out of a job that has none.
        connections=pb.ConnectionsList(connections=list(job.connections))
        if job.connections
        else None,
        tags=map_field(job.tags),
        created_on=timestamp(job.created_on),
        last_modified_on=timestamp(job.last_modified_on),
    )
    _set_glue_properties(message, job.glue_properties)
    for node_id, node in job.code_gen_configuration_nodes.items():
        message.code_gen_configuration_nodes[node_id].update(node)
    return message


# Runs


def run_input_from_proto(
    request: api.StartJobRunRequest,
    *,
    subnet_id: str = "",
    security_group_id: str = "",
    trace_parent: str = "",
    expected_role: str = "",
) -> RunInput:
    """The RunInput of StartJobRun; subnet and security group come from the job's connection,
    which the caller resolves, as does the role it found the caller may pass."""
    return RunInput(
        arguments=params(request.arguments),
        previous_run_id=request.job_run_id,
        timeout=request.timeout,
        worker_type=_worker_type(request.worker_type),
        number_of_workers=request.number_of_workers,
        job_run_queuing_enabled=request.job_run_queuing_enabled
        if request.HasField("job_run_queuing_enabled")
        else None,
        notify_delay_after=request.notification_property.notify_delay_after or None,
        subnet_id=subnet_id,
        security_group_id=security_group_id,
        trace_parent=trace_parent,
        expected_role=expected_role,
    )


def job_run_to_proto(run: JobRun) -> pb.JobRun:
    return pb.JobRun(
        id=run.id,
        attempt=run.attempt,
        previous_run_id=run.previous_run_id,
        trigger_name=run.trigger_name,
        job_name=run.job_name,
        started_on=timestamp(run.started_on),
        last_modified_on=timestamp(run.last_modified_on),
        completed_on=timestamp(run.completed_on),
        job_run_state=run_state_to_proto(run.state),
        arguments=map_field(run.arguments),
        error_message=run.error_message,
        timeout=run.timeout,
        worker_type=run.worker_type,
        number_of_workers=run.number_of_workers,
        execution_time=run.execution_time,
        environment_id=run.environment_id,
        warm_start=run.warm_start,
        job_run_queuing_enabled=run.job_run_queuing_enabled,
        notification_property=pb.JobNotificationProperty(notify_delay_after=run.notify_delay_after)
        if run.notify_delay_after
        else None,
    )


def stop_submission_to_proto(job_name: str, run_id: str) -> pb.BatchStopJobRunSuccessfulSubmission:
    return pb.BatchStopJobRunSuccessfulSubmission(job_name=job_name, job_run_id=run_id)


def stop_error_to_proto(job_name: str, run_id: str, error: SluiceError) -> pb.BatchStopJobRunError:
    """A run BatchStopJobRun could not stop; error_code is Glue's exception name."""
    return pb.BatchStopJobRunError(
        job_name=job_name,
        job_run_id=run_id,
        error_detail=pb.ErrorDetail(error_code=error.reason, error_message=error.message),
    )


# Logs and the pool


def log_entry_to_proto(entry: LogEntry) -> pb.LogEntry:
    return pb.LogEntry(
        stream=log_stream_to_proto(entry.stream),
        timestamp=timestamp(entry.timestamp),
        message=entry.message,
    )


def pool_status_to_proto(snapshot: PoolSnapshot) -> pb.PoolStatus:
    return pb.PoolStatus(
        target_size=snapshot.target_size,
        warm=snapshot.warm,
        starting=snapshot.starting,
        bound_idle=snapshot.bound_idle,
        busy=snapshot.busy,
        ray_started=snapshot.ray_started,
        ray_address=snapshot.ray_address,
        resource_limits=snapshot.resource_limits,
        sandboxes=[
            pb.SandboxStatus(
                sandbox_id=sandbox.sandbox_id,
                account=sandbox.account,
                os_user=sandbox.os_user,
                state=sandbox.state,
                target_size=sandbox.target_size,
                warm=sandbox.warm,
                starting=sandbox.starting,
                bound_idle=sandbox.bound_idle,
                busy=sandbox.busy,
                ray_started=sandbox.ray_started,
                ray_address=sandbox.ray_address,
                network_policy=sandbox.network_policy,
                idle_since=timestamp(sandbox.idle_since),
                resource_limits=sandbox.resource_limits,
            )
            for sandbox in snapshot.sandboxes
        ],
        queue=[
            pb.QueuedRun(
                account=run.account,
                job_name=run.job_name,
                run_id=run.run_id,
                position=run.position,
                started_on=timestamp(run.started_on),
            )
            for run in snapshot.queue
        ],
    )
