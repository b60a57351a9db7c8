"""API tokens of principals."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from sluice.iam.v1 import iam_pb2, types_pb2
from sluice.sdk.iam._base import IamBase


@dataclass(frozen=True)
class NewToken:
    """A token just made.

    Attributes:
        token: The token, to send as `authorization: Bearer <token>` (SLUICE_TOKEN). The server
            keeps only its hash: this is the one time it is shown.
        info: Its id, principal, description and expiry.
    """

    token: str = field(repr=False)
    info: types_pb2.TokenInfo


def expires_in_seconds(expires_in: float | timedelta | None) -> int:
    """Whole seconds of a lifetime; 0 for None (never expires).

    Raises:
        ValueError: The lifetime is not positive.
    """
    if expires_in is None:
        return 0
    seconds = expires_in.total_seconds() if isinstance(expires_in, timedelta) else expires_in
    if not seconds > 0:
        raise ValueError(f"expires_in must be positive, not {expires_in!r}")
    return math.ceil(seconds)


class TokensMixin(IamBase):
    """Token calls of IamClient."""

    def create_token(
        self,
        principal_name: str,
        *,
        expires_in: float | timedelta | None = None,
        description: str = "",
        account: str | None = None,
    ) -> NewToken:
        """Makes an API token for a principal.

        Args:
            principal_name: The principal the token authenticates as.
            expires_in: Its lifetime (seconds or a timedelta); None for a token that never
                expires.
            description: What it is for.
            account: The principal's account; the client's default (else the caller's own)
                when None.

        Returns:
            The token (shown only now) and its info.

        Raises:
            EntityNotFound: There is no such principal.
            AccessDenied: It is an operator principal and the caller is not an operator.
            ValueError: expires_in is not positive.
        """
        request = iam_pb2.CreateTokenRequest(
            account=self._account(account),
            principal_name=principal_name,
            description=description,
            expires_in_seconds=expires_in_seconds(expires_in),
        )
        response: iam_pb2.CreateTokenResponse = self._call(self._stub.CreateToken, request)
        return NewToken(token=response.token, info=response.token_info)

    def list_tokens(
        self, principal_name: str, *, page_size: int | None = None, account: str | None = None
    ) -> Iterator[types_pb2.TokenInfo]:
        """The tokens of a principal (never their secrets), oldest first, revoked ones too.

        Raises:
            EntityNotFound: There is no such principal.
        """
        request = iam_pb2.ListTokensRequest(
            account=self._account(account),
            principal_name=principal_name,
            max_results=page_size or 0,
        )
        return self._paginate(self._stub.ListTokens, request, "tokens")

    def revoke_token(self, token_id: str, *, account: str | None = None) -> types_pb2.TokenInfo:
        """Revokes a token: it is refused from the next call on. Revoking twice is harmless.

        Args:
            token_id: The token's id (16 hex characters, shown by list_tokens).
            account: The account of its principal; the client's default (else the caller's
                own) when None.

        Raises:
            EntityNotFound: The account has no such token.
        """
        request = iam_pb2.RevokeTokenRequest(account=self._account(account), token_id=token_id)
        response: iam_pb2.RevokeTokenResponse = self._call(self._stub.RevokeToken, request)
        return response.token_info
