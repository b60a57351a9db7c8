"""The record of one API call, shared by the interceptors and read by the servicers.

The audit interceptor (outermost of the two) opens a CallInfo for every call; the auth
interceptor fills in who is calling and what they act on; servicers ask `caller()` for the
principal. The record lives in a ContextVar: it is scoped to the call's thread of execution,
not global state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from sluice.common.errors import Unauthenticated


@dataclass(frozen=True)
class Principal:
    """An authenticated caller.

    Attributes:
        id: stable id of the principal.
        name: its name, unique within its account.
        account: the one account it belongs to; everything it does is scoped to it.
        roles: the roles it holds; policies attached to them grant actions.
        operator: the server operator's principal (the admin token made at first start): it may
            name any account in catalog_id and manage principals of every account.
        run_id: set for the temporary principal of a job run; valid only while the run is active.
    """

    id: str
    name: str
    account: str
    roles: tuple[str, ...] = ()
    operator: bool = False
    run_id: str = ""


@dataclass
class CallInfo:
    """What is known of the call in flight; filled in as the interceptors learn it."""

    method: str
    request_id: str = ""
    client_address: str = ""
    principal: Principal | None = None
    # The account the call acts in (the caller's, or the one an operator named).
    account: str = ""
    action: str = ""
    resource: str = ""
    read_only: bool = True
    # Request fields worth recording, secrets already redacted.
    parameters: dict[str, object] = field(default_factory=dict)
    # Why the call was refused (authentication or authorisation), if it was.
    denied_reason: str = ""
    # The door the call came through when not gRPC itself (e.g. "glue": the AWS JSON protocol).
    door: str = ""
    # Set by the auth interceptor: whether the caller may do an action on a resource (an
    # ARN-like name), for decisions a servicer makes itself, such as revealing secrets.
    authorizer: Callable[[str, str], bool] | None = field(default=None, repr=False)


_CURRENT: ContextVar[CallInfo | None] = ContextVar("sluice_call", default=None)


@contextmanager
def call_scope(info: CallInfo) -> Iterator[CallInfo]:
    """Make info the current call's record for the duration of the block."""
    token = _CURRENT.set(info)
    try:
        yield info
    finally:
        _CURRENT.reset(token)


def current_call() -> CallInfo | None:
    """The record of the call in flight, if any."""
    return _CURRENT.get()


def caller() -> Principal:
    """The authenticated principal of the call in flight; Unauthenticated if there is none."""
    info = _CURRENT.get()
    if info is None or info.principal is None:
        raise Unauthenticated("the call is not authenticated")
    return info.principal


def call_account() -> str:
    """The account the call in flight acts in."""
    info = _CURRENT.get()
    if info is None or not info.account:
        raise Unauthenticated("the call is not authenticated")
    return info.account


def allowed(action: str, resource: str) -> bool:
    """Whether the caller of the call in flight may do action on resource (False if unknown)."""
    info = _CURRENT.get()
    if info is None or info.authorizer is None:
        return False
    return info.authorizer(action, resource)
