"""Domain objects of identity: principals, their API tokens, and policies. Plain, frozen, no ORM.

Inputs are what a caller writes; the others are what the identity store returns. Times are
timezone-aware UTC datetimes. Names are already normalised (lower-case) when they leave a store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sluice.control_plane.security.calls import Principal
from sluice.control_plane.security.policy import Statement

# The name of the temporary principal of a job run is this prefix and the run's id.
RUN_PRINCIPAL_PREFIX = "run/"


def run_principal_name(run_id: str) -> str:
    """The name of the principal whose tokens a job run uses."""
    return f"{RUN_PRINCIPAL_PREFIX}{run_id}"


@dataclass(frozen=True)
class PrincipalInput:
    """A principal to create.

    Attributes:
        name: Unique in its account, case-insensitive (stored lower-case).
        roles: Role names; policies attached to them grant actions, `admin` grants all.
        description: Free text.
        operator: The server operator's kind of principal: may act in any account. Only an
            operator may create one.
        certificate_subject: A client certificate whose subject CN equals this authenticates
            as the principal (mutual TLS); "" for none. Unique across accounts.
    """

    name: str
    roles: tuple[str, ...] = ()
    description: str = ""
    operator: bool = False
    certificate_subject: str = ""


@dataclass(frozen=True)
class PrincipalUpdate:
    """Changes to a principal; a field left None stays as it is."""

    roles: tuple[str, ...] | None = None
    description: str | None = None
    certificate_subject: str | None = None


@dataclass(frozen=True)
class PrincipalRecord:
    """A principal as the identity store keeps it."""

    id: str
    account: str
    name: str
    roles: tuple[str, ...]
    description: str
    operator: bool
    certificate_subject: str
    run_id: str
    created_on: datetime
    last_modified_on: datetime

    def as_principal(self) -> Principal:
        """The principal a call authenticated as this one runs as."""
        return Principal(
            id=self.id,
            name=self.name,
            account=self.account,
            roles=self.roles,
            operator=self.operator,
            run_id=self.run_id,
        )


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown of a token: everything but its secret."""

    token_id: str
    account: str
    principal_name: str
    description: str
    created_on: datetime
    expires_on: datetime | None = None
    revoked_on: datetime | None = None

    def usable_at(self, now: datetime) -> bool:
        """Neither revoked nor expired at `now`."""
        if self.revoked_on is not None:
            return False
        return self.expires_on is None or now < self.expires_on


@dataclass(frozen=True)
class IssuedToken:
    """A token just created: its text, which is never stored nor shown again, and its info."""

    token: str
    info: TokenInfo

    def __repr__(self) -> str:
        return f"IssuedToken(token=..., info={self.info!r})"


@dataclass(frozen=True)
class TokenCredential:
    """What authentication needs of a token: the hash of its secret, its state, its principal."""

    secret_sha256: str
    info: TokenInfo
    principal: PrincipalRecord

    def __repr__(self) -> str:
        return f"TokenCredential(info={self.info!r}, principal={self.principal.name!r})"


@dataclass(frozen=True)
class PolicyInput:
    """A policy to create or replace.

    Attributes:
        name: Unique in its account, case-insensitive (stored lower-case).
        roles: The roles it is attached to.
        statements: What it allows and denies.
        description: Free text.
    """

    name: str
    roles: tuple[str, ...]
    statements: tuple[Statement, ...]
    description: str = ""


@dataclass(frozen=True)
class Policy:
    """A policy as the identity store keeps it."""

    account: str
    name: str
    roles: tuple[str, ...]
    statements: tuple[Statement, ...]
    description: str
    created_on: datetime
    last_modified_on: datetime
