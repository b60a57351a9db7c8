"""Sends the API token with every call of a channel, unary and streaming alike."""

from __future__ import annotations

from sluice.sdk._headers import AddHeader


class BearerToken(AddHeader):
    """Adds `authorization: Bearer <token>` to every call's metadata (in place of any the call
    sends).

    A call credential would do this only on TLS channels; the server also accepts plaintext on
    loopback, so the header is added here.
    """

    def __init__(self, token: str) -> None:
        super().__init__("authorization", f"Bearer {token}", replace=True)
