"""The identity part of the SDK: principals, their API tokens, and policies."""

from __future__ import annotations

from sluice.sdk.iam.access_keys import AccessKeysMixin, NewAccessKey
from sluice.sdk.iam.policies import PoliciesMixin, StatementLike, effect_name, statement_message
from sluice.sdk.iam.principals import PrincipalsMixin
from sluice.sdk.iam.tokens import NewToken, TokensMixin, expires_in_seconds


class IamClient(PrincipalsMixin, TokensMixin, AccessKeysMixin, PoliciesMixin):
    """Sluice identity and access: principals, API tokens, access keys and policies, Glue/IAM
    style.

    Every call acts in an account: the `account` argument, else the client's catalog_id, else
    the caller's own. Results are generated messages of sluice.iam.v1; list methods return
    iterators that fetch pages as they go. Failures raise the SluiceError subclass the
    server's error names.

    Obtain one from `Client.iam`; it shares the client's channel.

    Example:
        >>> with sdk.connect() as client:  # doctest: +SKIP
        ...     client.iam.create_principal("alice", roles=["analyst"])
        ...     client.iam.put_policy("analysts", [{"effect": "Allow",
        ...         "actions": ["glue:Get*"], "resources": ["table/sales/*"]}], roles=["analyst"])
        ...     new = client.iam.create_token("alice", expires_in=3600)
        ...     print(new.token)  # shown only now
    """


__all__ = [
    "IamClient",
    "NewAccessKey",
    "NewToken",
    "StatementLike",
    "effect_name",
    "expires_in_seconds",
    "statement_message",
]
