"""Principals, tokens and policies: sluice.iam.v1 messages ⇄ domain objects.

Effects are checked here, so a bad value is an InvalidInput naming the field before the store is
called; everything else is validated by the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from sluice.common.errors import InvalidInput
from sluice.control_plane.convert.common import timestamp
from sluice.control_plane.security.access_keys import AccessKeyInfo
from sluice.control_plane.security.model import (
    Policy,
    PolicyInput,
    PrincipalInput,
    PrincipalRecord,
    PrincipalUpdate,
    TokenInfo,
)
from sluice.control_plane.security.policy import Effect, Statement
from sluice.iam.v1 import iam_pb2 as api
from sluice.iam.v1 import types_pb2 as pb

_EFFECTS: Mapping[Effect, pb.Effect.ValueType] = MappingProxyType(
    {Effect.ALLOW: pb.EFFECT_ALLOW, Effect.DENY: pb.EFFECT_DENY}
)
_EFFECTS_BY_PROTO: Mapping[int, Effect] = MappingProxyType(
    {value: effect for effect, value in _EFFECTS.items()}
)


def principal_to_proto(principal: PrincipalRecord) -> pb.Principal:
    return pb.Principal(
        id=principal.id,
        account=principal.account,
        name=principal.name,
        roles=list(principal.roles),
        description=principal.description,
        operator=principal.operator,
        certificate_subject=principal.certificate_subject,
        run_id=principal.run_id,
        created_on=timestamp(principal.created_on),
        last_modified_on=timestamp(principal.last_modified_on),
    )


def principal_input_from_proto(request: api.CreatePrincipalRequest) -> PrincipalInput:
    return PrincipalInput(
        name=request.name,
        roles=tuple(request.roles),
        description=request.description,
        operator=request.operator,
        certificate_subject=request.certificate_subject,
    )


def principal_update_from_proto(update: pb.PrincipalUpdate) -> PrincipalUpdate:
    """The changes an UpdatePrincipal asks for: unset fields change nothing."""
    return PrincipalUpdate(
        roles=tuple(update.roles.roles) if update.HasField("roles") else None,
        description=update.description if update.HasField("description") else None,
        certificate_subject=(
            update.certificate_subject if update.HasField("certificate_subject") else None
        ),
    )


def token_info_to_proto(info: TokenInfo) -> pb.TokenInfo:
    return pb.TokenInfo(
        token_id=info.token_id,
        account=info.account,
        principal_name=info.principal_name,
        description=info.description,
        created_on=timestamp(info.created_on),
        expires_on=timestamp(info.expires_on),
        revoked_on=timestamp(info.revoked_on),
    )


def effect_from_proto(value: int, field: str) -> Effect:
    """The effect of an API value; InvalidInput naming field for UNSPECIFIED or an unknown one."""
    try:
        return _EFFECTS_BY_PROTO[value]
    except KeyError:
        raise InvalidInput(f"{field} must be EFFECT_ALLOW or EFFECT_DENY") from None


def statement_from_proto(statement: pb.Statement, field: str) -> Statement:
    return Statement(
        effect=effect_from_proto(statement.effect, f"{field}.effect"),
        actions=tuple(statement.actions),
        resources=tuple(statement.resources),
    )


def statement_to_proto(statement: Statement) -> pb.Statement:
    return pb.Statement(
        effect=_EFFECTS[Effect(statement.effect)],
        actions=list(statement.actions),
        resources=list(statement.resources),
    )


def policy_input_from_proto(request: api.PutPolicyRequest) -> PolicyInput:
    return PolicyInput(
        name=request.name,
        roles=tuple(request.roles),
        statements=tuple(
            statement_from_proto(s, f"statements[{i}]") for i, s in enumerate(request.statements)
        ),
        description=request.description,
    )


def policy_to_proto(policy: Policy) -> pb.Policy:
    return pb.Policy(
        account=policy.account,
        name=policy.name,
        description=policy.description,
        roles=list(policy.roles),
        statements=[statement_to_proto(s) for s in policy.statements],
        created_on=timestamp(policy.created_on),
        last_modified_on=timestamp(policy.last_modified_on),
    )


def access_key_info_to_proto(info: AccessKeyInfo) -> pb.AccessKeyInfo:
    return pb.AccessKeyInfo(
        access_key_id=info.access_key_id,
        account=info.account,
        principal_name=info.principal_name,
        description=info.description,
        created_on=timestamp(info.created_on),
    )
