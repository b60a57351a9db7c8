"""Typed errors of the Sluice SDK, recovered from the google.rpc.Status a server sends.

A server puts a google.rpc.ErrorInfo in the status details whose `reason` is Glue's exception
name; `from_rpc_error` picks the class by that reason, and by the status code when there is no
reason it knows (for example an error raised by gRPC itself, before any server code ran).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from sluice.jobs.v1 import types_pb2 as jobs_types_pb2

REQUEST_ID_METADATA_KEY = "x-request-id"

_Detail = TypeVar("_Detail", error_details_pb2.ErrorInfo, error_details_pb2.RequestInfo)


class SluiceError(Exception):
    """An error from a Sluice call.

    Attributes:
        code: The gRPC status code of the call.
        reason: Glue's exception name (for example EntityNotFoundException) when the server gave
            one, else the class's default reason.
        message: The human-readable message of the server.
        request_id: The id the server gave the request, or "" if it gave none.
        metadata: Structured details of the error (ErrorInfo.metadata), for example the name
            of the resource that was not found.
    """

    default_code: grpc.StatusCode = grpc.StatusCode.UNKNOWN
    default_reason: str = ""

    def __init__(
        self,
        message: str,
        *,
        code: grpc.StatusCode | None = None,
        reason: str | None = None,
        request_id: str = "",
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code if code is not None else self.default_code
        self.reason = reason or self.default_reason or self.code.name
        self.request_id = request_id
        self.metadata: Mapping[str, str] = dict(metadata or {})

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


class EntityNotFound(SluiceError):
    """The database, table, partition, version, connection or function does not exist."""

    default_code = grpc.StatusCode.NOT_FOUND
    default_reason = "EntityNotFoundException"


class AlreadyExists(SluiceError):
    """A resource of that name already exists."""

    default_code = grpc.StatusCode.ALREADY_EXISTS
    default_reason = "AlreadyExistsException"


class InvalidInput(SluiceError):
    """The request was malformed: a bad name, expression, page token or field value."""

    default_code = grpc.StatusCode.INVALID_ARGUMENT
    default_reason = "InvalidInputException"


class ConcurrentModification(SluiceError):
    """Someone else changed the resource first, for example a table's version moved on."""

    default_code = grpc.StatusCode.ABORTED
    default_reason = "ConcurrentModificationException"


class ResourceNumberLimitExceeded(SluiceError):
    """A quota or a per-request limit was exceeded."""

    default_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    default_reason = "ResourceNumberLimitExceededException"


class ConcurrentRunsExceeded(ResourceNumberLimitExceeded):
    """The job already has as many active runs as its max_concurrent_runs allows."""

    default_reason = "ConcurrentRunsExceededException"


class InvalidState(SluiceError):
    """The resource is not in a state that allows the operation."""

    default_code = grpc.StatusCode.FAILED_PRECONDITION
    default_reason = "InvalidStateException"


# The name of InvalidState before it took Glue's name; kept so existing code still catches it.
IllegalState = InvalidState


class AccessDenied(SluiceError):
    """The caller is not allowed to do this."""

    default_code = grpc.StatusCode.PERMISSION_DENIED
    default_reason = "AccessDeniedException"


class Unauthenticated(SluiceError):
    """The caller presented no credentials, or credentials the server does not accept."""

    default_code = grpc.StatusCode.UNAUTHENTICATED
    default_reason = "UnauthenticatedException"


class Unavailable(SluiceError):
    """The server could not be reached, or is not serving."""

    default_code = grpc.StatusCode.UNAVAILABLE
    default_reason = "ServiceUnavailableException"


class DeadlineExceeded(SluiceError):
    """The call did not finish before its deadline."""

    default_code = grpc.StatusCode.DEADLINE_EXCEEDED
    default_reason = "OperationTimeoutException"


class InternalServiceError(SluiceError):
    """The server failed while handling the call."""

    default_code = grpc.StatusCode.INTERNAL
    default_reason = "InternalServiceException"


class RunWaitTimeout(DeadlineExceeded):
    """A job run was still not finished when `wait_for_run` stopped waiting for it.

    Raised by the client, not the server: the run itself goes on.

    Attributes:
        job_name: The run's job.
        run_id: The run waited for.
        last_run: The run as it was last seen, or None if it was never fetched.
    """

    default_reason = "JobRunWaitTimeout"

    def __init__(
        self,
        message: str,
        *,
        job_name: str,
        run_id: str,
        last_run: jobs_types_pb2.JobRun | None = None,
    ) -> None:
        super().__init__(message)
        self.job_name = job_name
        self.run_id = run_id
        self.last_run = last_run


_BY_REASON: Mapping[str, type[SluiceError]] = {
    cls.default_reason: cls
    for cls in (
        EntityNotFound,
        AlreadyExists,
        InvalidInput,
        ConcurrentModification,
        ResourceNumberLimitExceeded,
        ConcurrentRunsExceeded,
        InvalidState,
        AccessDenied,
        Unauthenticated,
        Unavailable,
        DeadlineExceeded,
        InternalServiceError,
    )
}

# Reasons servers sent before they used Glue's names.
_OLD_REASONS: Mapping[str, type[SluiceError]] = {"IllegalStateException": InvalidState}

# A code alone names the general class, never a subclass such as ConcurrentRunsExceeded.
_BY_CODE: Mapping[grpc.StatusCode, type[SluiceError]] = {
    cls.default_code: cls for cls in _BY_REASON.values() if cls.__base__ is SluiceError
}


def from_rpc_error(err: grpc.RpcError, *, address: str | None = None) -> SluiceError:
    """The typed error that a failed call stands for.

    Args:
        err: The error a gRPC stub raised.
        address: The server's address, named in the message when it cannot be reached.

    Returns:
        An instance of the SluiceError subclass that the ErrorInfo reason names, else the one
        that matches the status code, else SluiceError itself.
    """
    code, message, trailing = _call_parts(err)
    status = _rich_status(err)
    info = _detail(status, error_details_pb2.ErrorInfo)
    request_info = _detail(status, error_details_pb2.RequestInfo)
    reason = info.reason if info is not None else ""
    metadata = dict(info.metadata) if info is not None else {}
    request_id = (
        (request_info.request_id if request_info is not None else "")
        or metadata.get("request_id", "")
        or trailing.get(REQUEST_ID_METADATA_KEY, "")
    )
    cls = _BY_REASON.get(reason) or _OLD_REASONS.get(reason) or _BY_CODE.get(code, SluiceError)
    if cls is Unavailable and address:
        message = f"cannot reach the Sluice server at {address}: {message}"
    elif cls is DeadlineExceeded and address:
        message = f"no answer from the Sluice server at {address} in time: {message}"
    return cls(message, code=code, reason=reason, request_id=request_id, metadata=metadata)


def _call_parts(err: grpc.RpcError) -> tuple[grpc.StatusCode, str, dict[str, str]]:
    # An RpcError from a stub is also a grpc.Call; anything else only carries its str().
    if not isinstance(err, grpc.Call):
        return grpc.StatusCode.UNKNOWN, str(err) or type(err).__name__, {}
    trailing = {
        key: value for key, value in (err.trailing_metadata() or ()) if isinstance(value, str)
    }
    return err.code(), err.details() or err.code().name, trailing


def _rich_status(err: grpc.RpcError) -> status_pb2.Status | None:
    if not isinstance(err, grpc.Call):
        return None
    try:
        return rpc_status.from_call(err)
    except ValueError:
        # Details that contradict the status code are not to be trusted; use the code alone.
        return None


def _detail(status: status_pb2.Status | None, kind: type[_Detail]) -> _Detail | None:
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(kind.DESCRIPTOR):
            found = kind()
            detail.Unpack(found)
            return found
    return None
