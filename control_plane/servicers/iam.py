"""The IamService servicer: principals, API tokens and policies over an IdentityStore.

The auth interceptor has already authenticated the caller and checked its policies for the
RPC's action (iam:<Method>). What only this servicer can decide, it decides here:
- A caller acts in its own account. Naming another account is NOT_FOUND ("Account … not
  found"), as if it did not exist; only the operator may name any account.
- Only the operator may create operator principals, or change, delete, make tokens for or revoke
  the tokens of one: otherwise an account's admin could mint itself an operator's token.
Changes made through the store reach the Authenticator's caches through the store's
subscription, so a revoked token is refused from the next call on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeAlias

import grpc

from sluice.common.errors import AccessDenied, EntityNotFound
from sluice.common.paging import PageRequest
from sluice.control_plane.convert.iam import (
    access_key_info_to_proto,
    policy_input_from_proto,
    policy_to_proto,
    principal_input_from_proto,
    principal_to_proto,
    principal_update_from_proto,
    token_info_to_proto,
)
from sluice.control_plane.security import checks
from sluice.control_plane.security.access_keys import checked_access_key_id, given_access_key
from sluice.control_plane.security.calls import call_account, caller
from sluice.control_plane.security.identity_store import IdentityStore
from sluice.control_plane.security.tokens import checked_token_id
from sluice.iam.v1 import iam_pb2 as api
from sluice.iam.v1 import iam_pb2_grpc

Ctx: TypeAlias = grpc.ServicerContext
OPERATOR_ONLY = "only an operator may manage operator principals and their tokens"


class _Scoped(Protocol):
    """Every request of the service names the account it works in."""

    account: str


def utc_now() -> datetime:
    return datetime.now(UTC)


def _paged(request: object) -> PageRequest:
    # IAM list calls have no segment, which convert.common.page_request expects.
    return PageRequest(
        max_results=request.max_results,  # type: ignore[attr-defined]
        next_token=request.next_token,  # type: ignore[attr-defined]
    )


class IamServicer(iam_pb2_grpc.IamServiceServicer):
    """Serves sluice.iam.v1.IamService from an IdentityStore.

    Args:
        store: Where principals, tokens and policies are kept.
        clock: The current time, from which token expiry is computed (tests pass their own).
    """

    def __init__(self, store: IdentityStore, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._store = store
        self._clock = clock

    def _account(self, request: _Scoped) -> str:
        """The account a call acts in: the caller's, or the one an operator named."""
        principal = caller()
        if not request.account:
            return call_account()
        named = checks.account(request.account)
        if named != principal.account and not principal.operator:
            raise EntityNotFound(f"Account {named} not found")
        return named

    def _guard_operator_principal(self, account: str, name: str) -> None:
        """AccessDenied when a non-operator acts on an operator principal."""
        if caller().operator:
            return
        if self._store.get_principal(account, name).operator:
            raise AccessDenied(OPERATOR_ONLY)

    # Principals

    def CreatePrincipal(
        self, request: api.CreatePrincipalRequest, context: Ctx
    ) -> api.CreatePrincipalResponse:
        account = self._account(request)
        if request.operator and not caller().operator:
            raise AccessDenied("only an operator may create operator principals")
        principal = self._store.create_principal(account, principal_input_from_proto(request))
        return api.CreatePrincipalResponse(principal=principal_to_proto(principal))

    def GetPrincipal(
        self, request: api.GetPrincipalRequest, context: Ctx
    ) -> api.GetPrincipalResponse:
        principal = self._store.get_principal(self._account(request), request.name)
        return api.GetPrincipalResponse(principal=principal_to_proto(principal))

    def ListPrincipals(
        self, request: api.ListPrincipalsRequest, context: Ctx
    ) -> api.ListPrincipalsResponse:
        page = self._store.list_principals(self._account(request), _paged(request))
        return api.ListPrincipalsResponse(
            principals=[principal_to_proto(p) for p in page.items], next_token=page.next_token
        )

    def UpdatePrincipal(
        self, request: api.UpdatePrincipalRequest, context: Ctx
    ) -> api.UpdatePrincipalResponse:
        account = self._account(request)
        self._guard_operator_principal(account, request.name)
        principal = self._store.update_principal(
            account, request.name, principal_update_from_proto(request.principal_update)
        )
        return api.UpdatePrincipalResponse(principal=principal_to_proto(principal))

    def DeletePrincipal(
        self, request: api.DeletePrincipalRequest, context: Ctx
    ) -> api.DeletePrincipalResponse:
        account = self._account(request)
        self._guard_operator_principal(account, request.name)
        self._store.delete_principal(account, request.name)
        return api.DeletePrincipalResponse()

    # Tokens

    def CreateToken(self, request: api.CreateTokenRequest, context: Ctx) -> api.CreateTokenResponse:
        account = self._account(request)
        expires_in = checks.expires_in_seconds(request.expires_in_seconds)
        self._guard_operator_principal(account, request.principal_name)
        expires_on = self._clock() + timedelta(seconds=expires_in) if expires_in else None
        issued = self._store.create_token(
            account,
            request.principal_name,
            description=request.description,
            expires_on=expires_on,
        )
        return api.CreateTokenResponse(
            token=issued.token, token_info=token_info_to_proto(issued.info)
        )

    def ListTokens(self, request: api.ListTokensRequest, context: Ctx) -> api.ListTokensResponse:
        page = self._store.list_tokens(
            self._account(request), request.principal_name, _paged(request)
        )
        return api.ListTokensResponse(
            tokens=[token_info_to_proto(t) for t in page.items], next_token=page.next_token
        )

    def RevokeToken(self, request: api.RevokeTokenRequest, context: Ctx) -> api.RevokeTokenResponse:
        account = self._account(request)
        token_id = checked_token_id(request.token_id)
        if not caller().operator:
            credential = self._store.lookup_token(token_id)
            if (
                credential is not None
                and credential.info.account == account
                and credential.principal.operator
            ):
                raise AccessDenied(OPERATOR_ONLY)
        info = self._store.revoke_token(account, token_id)
        return api.RevokeTokenResponse(token_info=token_info_to_proto(info))

    # Access keys

    def CreateAccessKey(
        self, request: api.CreateAccessKeyRequest, context: Ctx
    ) -> api.CreateAccessKeyResponse:
        account = self._account(request)
        self._guard_operator_principal(account, request.principal_name)
        key = None
        if request.access_key_id or request.secret_access_key:
            # A registered pair was made elsewhere: only the operator vouches for one.
            if not caller().operator:
                raise AccessDenied("only an operator may register an existing access key pair")
            key = given_access_key(request.access_key_id, request.secret_access_key)
        issued = self._store.create_access_key(
            account, request.principal_name, description=request.description, key=key
        )
        return api.CreateAccessKeyResponse(
            access_key_info=access_key_info_to_proto(issued.info),
            secret_access_key=issued.secret_access_key,
        )

    def ListAccessKeys(
        self, request: api.ListAccessKeysRequest, context: Ctx
    ) -> api.ListAccessKeysResponse:
        page = self._store.list_access_keys(
            self._account(request), request.principal_name, _paged(request)
        )
        return api.ListAccessKeysResponse(
            access_keys=[access_key_info_to_proto(k) for k in page.items],
            next_token=page.next_token,
        )

    def DeleteAccessKey(
        self, request: api.DeleteAccessKeyRequest, context: Ctx
    ) -> api.DeleteAccessKeyResponse:
        account = self._account(request)
        key_id = checked_access_key_id(request.access_key_id)
        if not caller().operator:
            found = self._store.lookup_access_key(key_id)
            if found is not None and found[1].account == account and found[1].operator:
                raise AccessDenied(OPERATOR_ONLY)
        self._store.delete_access_key(account, key_id)
        return api.DeleteAccessKeyResponse()

    # Policies

    def PutPolicy(self, request: api.PutPolicyRequest, context: Ctx) -> api.PutPolicyResponse:
        policy = self._store.put_policy(self._account(request), policy_input_from_proto(request))
        return api.PutPolicyResponse(policy=policy_to_proto(policy))

    def GetPolicy(self, request: api.GetPolicyRequest, context: Ctx) -> api.GetPolicyResponse:
        policy = self._store.get_policy(self._account(request), request.name)
        return api.GetPolicyResponse(policy=policy_to_proto(policy))

    def ListPolicies(
        self, request: api.ListPoliciesRequest, context: Ctx
    ) -> api.ListPoliciesResponse:
        page = self._store.list_policies(
            self._account(request), _paged(request), role=request.role or None
        )
        return api.ListPoliciesResponse(
            policies=[policy_to_proto(p) for p in page.items], next_token=page.next_token
        )

    def DeletePolicy(
        self, request: api.DeletePolicyRequest, context: Ctx
    ) -> api.DeletePolicyResponse:
        self._store.delete_policy(self._account(request), request.name)
        return api.DeletePolicyResponse()
