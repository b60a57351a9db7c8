"""Policies: which actions the holders of a role may do on which resources."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sluice.iam.v1 import iam_pb2, types_pb2
from sluice.sdk.iam._base import IamBase
from sluice.sdk.messages import to_message, to_values

StatementLike = types_pb2.Statement | Mapping[str, Any]

_EFFECT_NAMES: dict[int, str] = {types_pb2.EFFECT_ALLOW: "Allow", types_pb2.EFFECT_DENY: "Deny"}


def effect_value(effect: str | int) -> types_pb2.Effect.ValueType:
    """The API value of an effect: Allow or Deny (any case), EFFECT_ALLOW, EFFECT_DENY.

    Raises:
        ValueError: It is none of these.
    """
    if isinstance(effect, int) and effect in _EFFECT_NAMES:
        return types_pb2.Effect.Value(types_pb2.Effect.Name(effect))
    text = str(effect).strip().upper()
    text = text if text.startswith("EFFECT_") else f"EFFECT_{text}"
    if text not in ("EFFECT_ALLOW", "EFFECT_DENY"):
        raise ValueError(f"effect must be Allow or Deny, not {effect!r}")
    return types_pb2.Effect.Value(text)


def effect_name(effect: int) -> str:
    """Allow or Deny, as policies are written."""
    return _EFFECT_NAMES.get(effect, "")


def statement_message(value: StatementLike, *, what: str = "statement") -> types_pb2.Statement:
    """A Statement from a message or a dict such as
    {"effect": "Allow", "actions": ["glue:Get*"], "resources": ["table/sales/*"]}.

    Raises:
        TypeError, ValueError: It does not describe a statement.
    """
    if isinstance(value, Mapping) and "effect" in value:
        value = {**value, "effect": types_pb2.Effect.Name(effect_value(value["effect"]))}
    return to_message(value, types_pb2.Statement, what=what)


class PoliciesMixin(IamBase):
    """Policy calls of IamClient."""

    def put_policy(
        self,
        name: str,
        statements: Iterable[StatementLike],
        *,
        roles: Sequence[str] = (),
        description: str = "",
        account: str | None = None,
    ) -> types_pb2.Policy:
        """Creates a policy, or replaces the one called `name`.

        Args:
            name: Unique in the account, case-insensitive.
            statements: What it allows and denies, e.g. [{"effect": "Allow", "actions":
                ["glue:Get*"], "resources": ["table/sales/*"]}]. A Deny wins over any Allow.
            roles: The roles it is attached to.
            description: Free text.
            account: The account; the client's default (else the caller's own) when None.

        Returns:
            The policy as stored.

        Raises:
            InvalidInput: A statement, role or the name is not valid.
            TypeError, ValueError: A statement is not a statement.
        """
        request = iam_pb2.PutPolicyRequest(
            account=self._account(account),
            name=name,
            description=description,
            roles=to_values(roles, what="roles"),
            statements=[
                statement_message(s, what=f"statements[{i}]") for i, s in enumerate(statements)
            ],
        )
        response: iam_pb2.PutPolicyResponse = self._call(self._stub.PutPolicy, request)
        return response.policy

    def get_policy(self, name: str, *, account: str | None = None) -> types_pb2.Policy:
        """The policy called `name`.

        Raises:
            EntityNotFound: There is no such policy.
        """
        request = iam_pb2.GetPolicyRequest(account=self._account(account), name=name)
        response: iam_pb2.GetPolicyResponse = self._call(self._stub.GetPolicy, request)
        return response.policy

    def list_policies(
        self,
        *,
        role: str | None = None,
        page_size: int | None = None,
        account: str | None = None,
    ) -> Iterator[types_pb2.Policy]:
        """Every policy of the account by name (with role, those attached to it), fetching
        pages as the iteration needs them."""
        request = iam_pb2.ListPoliciesRequest(
            account=self._account(account), role=role or "", max_results=page_size or 0
        )
        return self._paginate(self._stub.ListPolicies, request, "policies")

    def delete_policy(self, name: str, *, account: str | None = None) -> None:
        """Deletes a policy.

        Raises:
            EntityNotFound: There is no such policy.
        """
        request = iam_pb2.DeletePolicyRequest(account=self._account(account), name=name)
        self._call(self._stub.DeletePolicy, request)
