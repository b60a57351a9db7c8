"""Typed errors recovered from the rich status a server sends."""

from __future__ import annotations

import grpc
import pytest

from sluice import sdk
from sluice.sdk.errors import from_rpc_error
from tests.unit.test_sdk_support import FakeRpcError, rpc_error

pytestmark = pytest.mark.unit

GLUE_REASONS = [
    ("EntityNotFoundException", grpc.StatusCode.NOT_FOUND, sdk.EntityNotFound),
    ("AlreadyExistsException", grpc.StatusCode.ALREADY_EXISTS, sdk.AlreadyExists),
    ("InvalidInputException", grpc.StatusCode.INVALID_ARGUMENT, sdk.InvalidInput),
    ("ConcurrentModificationException", grpc.StatusCode.ABORTED, sdk.ConcurrentModification),
    (
        "ResourceNumberLimitExceededException",
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        sdk.ResourceNumberLimitExceeded,
    ),
    ("InvalidStateException", grpc.StatusCode.FAILED_PRECONDITION, sdk.InvalidState),
    ("AccessDeniedException", grpc.StatusCode.PERMISSION_DENIED, sdk.AccessDenied),
    ("UnauthenticatedException", grpc.StatusCode.UNAUTHENTICATED, sdk.Unauthenticated),
    ("InternalServiceException", grpc.StatusCode.INTERNAL, sdk.InternalServiceError),
]


@pytest.mark.parametrize(("reason", "code", "cls"), GLUE_REASONS)
def test_reason_picks_the_class(reason: str, code: grpc.StatusCode, cls: type) -> None:
    err = from_rpc_error(rpc_error(code, "it went wrong", reason=reason))

    assert type(err) is cls
    assert err.reason == reason
    assert err.code == code
    assert err.message == "it went wrong"
    assert str(err) == f"{reason}: it went wrong"


def test_reason_wins_over_the_status_code() -> None:
    # The reason is the contract; a status code can be remapped by proxies or interceptors.
    err = from_rpc_error(
        rpc_error(grpc.StatusCode.UNKNOWN, "Table t not found", reason="EntityNotFoundException")
    )

    assert isinstance(err, sdk.EntityNotFound)
    assert err.code == grpc.StatusCode.UNKNOWN


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        *((code, cls) for _, code, cls in GLUE_REASONS),
        (grpc.StatusCode.UNAVAILABLE, sdk.Unavailable),
        (grpc.StatusCode.DEADLINE_EXCEEDED, sdk.DeadlineExceeded),
    ],
)
def test_without_details_the_code_picks_the_class(code: grpc.StatusCode, cls: type) -> None:
    err = from_rpc_error(FakeRpcError(code, "plain status"))

    assert type(err) is cls
    assert err.reason == cls.default_reason
    assert err.message == "plain status"


def test_unknown_reason_keeps_the_reason_and_falls_back_on_the_code() -> None:
    err = from_rpc_error(
        rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "bad key", reason="GlueEncryptionException")
    )

    assert type(err) is sdk.InvalidInput
    assert err.reason == "GlueEncryptionException"


def test_unmapped_code_is_a_plain_sluice_error_named_after_the_code() -> None:
    err = from_rpc_error(FakeRpcError(grpc.StatusCode.UNIMPLEMENTED, "no such method"))

    assert type(err) is sdk.SluiceError
    assert err.reason == "UNIMPLEMENTED"
    assert err.code == grpc.StatusCode.UNIMPLEMENTED


def test_details_contradicting_the_status_are_ignored() -> None:
    genuine = rpc_error(grpc.StatusCode.NOT_FOUND, "gone", reason="EntityNotFoundException")
    tampered = FakeRpcError(
        grpc.StatusCode.ALREADY_EXISTS, "exists", tuple(genuine.trailing_metadata())
    )

    err = from_rpc_error(tampered)

    assert type(err) is sdk.AlreadyExists
    assert err.message == "exists"


def test_error_info_metadata_is_kept() -> None:
    err = from_rpc_error(
        rpc_error(
            grpc.StatusCode.NOT_FOUND,
            "Database sales not found",
            reason="EntityNotFoundException",
            error_metadata={"database": "sales"},
        )
    )

    assert err.metadata == {"database": "sales"}


def test_request_id_from_trailing_metadata() -> None:
    err = from_rpc_error(
        rpc_error(
            grpc.StatusCode.INTERNAL,
            "boom",
            reason="InternalServiceException",
            extra_trailing=(("x-request-id", "req-42"),),
        )
    )

    assert err.request_id == "req-42"


def test_request_id_from_request_info_detail() -> None:
    err = from_rpc_error(
        rpc_error(grpc.StatusCode.INTERNAL, "boom", reason="X", request_info_id="req-7")
    )

    assert err.request_id == "req-7"


def test_no_request_id_is_empty() -> None:
    assert from_rpc_error(FakeRpcError(grpc.StatusCode.INTERNAL, "boom")).request_id == ""


def test_unavailable_names_the_address() -> None:
    err = from_rpc_error(
        FakeRpcError(grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses"),
        address="db.example:50051",
    )

    assert isinstance(err, sdk.Unavailable)
    assert "db.example:50051" in err.message
    assert "failed to connect to all addresses" in err.message


def test_an_rpc_error_that_is_not_a_call_still_maps() -> None:
    err = from_rpc_error(grpc.RpcError("channel closed"))

    assert type(err) is sdk.SluiceError
    assert err.code == grpc.StatusCode.UNKNOWN
    assert err.message == "channel closed"


def test_every_typed_error_is_a_sluice_error() -> None:
    for name in sdk.__all__:
        value = getattr(sdk, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, sdk.SluiceError)


def test_the_old_illegal_state_name_still_works() -> None:
    # Servers before the rename sent IllegalStateException; code catching IllegalState goes on
    # catching what is now InvalidState.
    err = from_rpc_error(
        rpc_error(grpc.StatusCode.FAILED_PRECONDITION, "busy", reason="IllegalStateException")
    )
    assert type(err) is sdk.InvalidState
    assert sdk.IllegalState is sdk.InvalidState
