"""The operations of principals, API tokens and policies, independent of how they are stored.

Methods are scoped by account (the caller resolves it), except the lookups authentication makes
before any account is known (`lookup_token`, `principal_by_certificate`). Errors are the domain
errors of common.errors. List methods take a PageRequest and return a Page whose next_token is
opaque and tamper-checked.

A store tells its listeners (`subscribe`) after every committed change, so that what this
process has cached of identities and policies (the Authenticator's caches) is dropped at once.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection
from datetime import datetime

from sluice.common.paging import Page, PageRequest
from sluice.control_plane.security.access_keys import (
    AccessKeyInfo,
    IssuedAccessKey,
    NewAccessKey,
)
from sluice.control_plane.security.model import (
    IssuedToken,
    Policy,
    PolicyInput,
    PrincipalInput,
    PrincipalRecord,
    PrincipalUpdate,
    TokenCredential,
    TokenInfo,
)
from sluice.control_plane.security.policy import Statement
from sluice.control_plane.security.tokens import NewToken


class IdentityStore(ABC):
    """Principals, their tokens, and policies. Subclasses call `_changed()` after each commit."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []
        self._listeners_lock = threading.Lock()

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Calls listener (which must not block) after every change committed through this
        store object."""
        with self._listeners_lock:
            self._listeners.append(listener)

    def _changed(self) -> None:
        with self._listeners_lock:
            listeners = tuple(self._listeners)
        for listener in listeners:
            listener()

    # Principals
    @abstractmethod
    def create_principal(self, account: str, principal_input: PrincipalInput) -> PrincipalRecord:
        """AlreadyExists if the account has a principal of that name, or another principal has
        the certificate subject."""

    @abstractmethod
    def create_principal_with_token(
        self,
        account: str,
        principal_input: PrincipalInput,
        *,
        token_description: str,
        expires_on: datetime | None,
        token: NewToken | None = None,
    ) -> IssuedToken:
        """A principal and its first token, in one transaction (both or neither exist after).

        token is the first token to give it (default: a new random one)."""

    @abstractmethod
    def get_principal(self, account: str, name: str) -> PrincipalRecord: ...

    @abstractmethod
    def list_principals(self, account: str, page: PageRequest) -> Page[PrincipalRecord]:
        """By name."""

    @abstractmethod
    def update_principal(
        self, account: str, name: str, changes: PrincipalUpdate
    ) -> PrincipalRecord:
        """Applies the fields of changes that are not None."""

    @abstractmethod
    def delete_principal(self, account: str, name: str) -> None:
        """Deletes the principal and all its tokens. EntityNotFound if there is none;
        FailedPrecondition if it is the last operator principal (the server would be left
        without one)."""

    @abstractmethod
    def has_operator(self) -> bool:
        """Whether any account has an operator principal."""

    @abstractmethod
    def principal_by_certificate(self, subject: str) -> PrincipalRecord | None:
        """The principal a client certificate with this subject CN authenticates as."""

    # Tokens
    @abstractmethod
    def create_token(
        self,
        account: str,
        principal_name: str,
        *,
        description: str = "",
        expires_on: datetime | None = None,
    ) -> IssuedToken:
        """A new token of the principal. InvalidInput if expires_on is not in the future."""

    @abstractmethod
    def list_tokens(self, account: str, principal_name: str, page: PageRequest) -> Page[TokenInfo]:
        """The principal's tokens, revoked and expired ones too, oldest first."""

    @abstractmethod
    def revoke_token(self, account: str, token_id: str) -> TokenInfo:
        """Revokes a token of a principal of the account (no-op if it already is).
        EntityNotFound if the account has no such token."""

    @abstractmethod
    def lookup_token(self, token_id: str) -> TokenCredential | None:
        """The token with this id and its principal, of any account; None if there is none."""

    @abstractmethod
    def issue_run_token(self, account: str, run_id: str, role: str, expires_on: datetime) -> str:
        """A token for a job run: its principal `run/<run_id>` (created, or reused, with roles
        [role] and run_id set) gets a new token expiring at expires_on. Returns the token."""

    @abstractmethod
    def purge_run_principals(self, expired_before: datetime) -> int:
        """Deletes run principals none of whose tokens is usable after expired_before (all
        revoked or expired by then); returns how many."""

    # Access keys
    @abstractmethod
    def create_access_key(
        self,
        account: str,
        principal_name: str,
        *,
        description: str = "",
        key: NewAccessKey | None = None,
    ) -> IssuedAccessKey:
        """A new access key pair of the principal (key: an existing pair to register instead).
        AlreadyExists if the access key id is taken."""

    @abstractmethod
    def list_access_keys(
        self, account: str, principal_name: str, page: PageRequest
    ) -> Page[AccessKeyInfo]:
        """The principal's access keys, oldest first."""

    @abstractmethod
    def delete_access_key(self, account: str, access_key_id: str) -> AccessKeyInfo:
        """EntityNotFound if the account has no such key."""

    @abstractmethod
    def lookup_access_key(self, access_key_id: str) -> tuple[str, PrincipalRecord] | None:
        """The secret access key (decrypted) and principal of a key, of any account; None if
        there is none."""

    # Policies
    @abstractmethod
    def put_policy(self, account: str, policy_input: PolicyInput) -> Policy:
        """Creates the policy, or replaces the one of that name (keeping its created_on)."""

    @abstractmethod
    def get_policy(self, account: str, name: str) -> Policy: ...

    @abstractmethod
    def list_policies(
        self, account: str, page: PageRequest, *, role: str | None = None
    ) -> Page[Policy]:
        """By name; with role, only the policies attached to it."""

    @abstractmethod
    def delete_policy(self, account: str, name: str) -> None:
        """EntityNotFound if there is none."""

    @abstractmethod
    def statements_for(self, account: str, roles: Collection[str]) -> list[Statement]:
        """The statements of every policy of the account attached to any of roles."""
