"""Domain errors. Each knows its gRPC status and Glue's exception name; one server
interceptor turns them into a status with a google.rpc.ErrorInfo detail."""

from __future__ import annotations

from collections.abc import Mapping

import grpc


class SluiceError(Exception):
    """Base of every error a client may see. Handlers raise these and never build statuses."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    reason: str = "InternalServiceException"

    def __init__(self, message: str, **metadata: str) -> None:
        super().__init__(message)
        self.message = message
        self.metadata: Mapping[str, str] = {k: str(v) for k, v in metadata.items()}

    def grpc_status_code(self) -> grpc.StatusCode:
        return self.code


class EntityNotFound(SluiceError):
    code = grpc.StatusCode.NOT_FOUND
    reason = "EntityNotFoundException"


class AlreadyExists(SluiceError):
    code = grpc.StatusCode.ALREADY_EXISTS
    reason = "AlreadyExistsException"


class InvalidInput(SluiceError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "InvalidInputException"


class ConcurrentModification(SluiceError):
    code = grpc.StatusCode.ABORTED
    reason = "ConcurrentModificationException"


class ResourceNumberLimitExceeded(SluiceError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "ResourceNumberLimitExceededException"


class ConcurrentRunsExceeded(ResourceNumberLimitExceeded):
    """A job already has max_concurrent_runs active runs."""

    reason = "ConcurrentRunsExceededException"


class FailedPrecondition(SluiceError):
    """The resource is not in a state that allows the call (Glue's InvalidStateException)."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "InvalidStateException"


class IllegalWorkflowState(FailedPrecondition):
    """A workflow run is not in a state that allows the call (e.g. it has ended)."""

    reason = "IllegalWorkflowStateException"


class OperationTimeout(SluiceError):
    """A store call did not finish within its deadline."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED
    reason = "OperationTimeoutException"


class AccessDenied(SluiceError):
    code = grpc.StatusCode.PERMISSION_DENIED
    reason = "AccessDeniedException"


class Unauthenticated(SluiceError):
    code = grpc.StatusCode.UNAUTHENTICATED
    reason = "UnauthenticatedException"


class InternalError(SluiceError):
    code = grpc.StatusCode.INTERNAL
    reason = "InternalServiceException"


class IncompleteSignature(Unauthenticated):
    """An AWS Signature Version 4 request whose Authorization header or date is malformed."""

    reason = "IncompleteSignatureException"


class UnrecognizedClient(Unauthenticated):
    """A SigV4 request signed with an access key id Sluice does not know."""

    reason = "UnrecognizedClientException"


class InvalidSignature(Unauthenticated):
    """A SigV4 signature that does not match, or whose date is too far from the server's."""

    reason = "InvalidSignatureException"
