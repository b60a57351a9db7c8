"""API tokens: their format, how they are made, and how they are hashed for storage.

A token reads `slk_<token_id>_<secret>`: token_id is 16 hex characters, public (listings show
it, RevokeToken takes it); secret is 32 random bytes in URL-safe base64. Only the SHA-256 of the
secret is stored, and compared in constant time. The secret has 256 bits of entropy, so a plain
hash is enough: there is nothing to brute-force that a slow hash would protect.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sluice.common.errors import InvalidInput, Unauthenticated

PREFIX = "slk_"
TOKEN_ID_HEX = 16
SECRET_BYTES = 32
# What every refusal of a token says, so that no caller learns which check failed.
INVALID_TOKEN = "invalid or expired token"
_TOKEN = re.compile(r"slk_([0-9a-f]{16})_([A-Za-z0-9_\-]{43,128})")
_TOKEN_ID = re.compile(r"[0-9a-f]{16}")


@dataclass(frozen=True)
class ParsedToken:
    """The two parts of a well-formed token."""

    token_id: str
    secret: str = ""

    def __repr__(self) -> str:
        return f"ParsedToken(token_id={self.token_id!r}, secret=...)"


@dataclass(frozen=True)
class NewToken:
    """A freshly made token: its text (shown once) and what is stored of it."""

    text: str
    token_id: str
    secret_sha256: str

    def __repr__(self) -> str:
        return f"NewToken(token_id={self.token_id!r}, text=...)"


def new_token() -> NewToken:
    """A new random token."""
    token_id = secrets.token_hex(TOKEN_ID_HEX // 2)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return NewToken(
        text=f"{PREFIX}{token_id}_{secret}", token_id=token_id, secret_sha256=secret_hash(secret)
    )


def given_token(text: str) -> NewToken:
    """A token chosen by the operator (SLUICE_BOOTSTRAP_TOKEN), as if it had been made here.

    Raises:
        InvalidInput: text is not of the token format (slk_<16 hex>_<43+ url-safe chars>).
    """
    match = _TOKEN.fullmatch(text.strip())
    if match is None:
        raise InvalidInput(
            "a bootstrap token must look like slk_<16 hex digits>_<at least 43 of A-Z a-z 0-9 _ ->"
        )
    return NewToken(
        text=text.strip(), token_id=match.group(1), secret_sha256=secret_hash(match.group(2))
    )


def parse_token(text: str) -> ParsedToken:
    """The id and secret of a token.

    Raises:
        Unauthenticated: The text is not a token ("invalid or expired token").
    """
    match = _TOKEN.fullmatch(text)
    if match is None:
        raise Unauthenticated(INVALID_TOKEN)
    return ParsedToken(token_id=match.group(1), secret=match.group(2))


def secret_hash(secret: str) -> str:
    """What is stored of a secret: its SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def secret_matches(secret: str, stored_sha256: str) -> bool:
    """Whether secret is the one whose hash was stored (constant-time comparison)."""
    return hmac.compare_digest(secret_hash(secret), stored_sha256)


def cache_key(text: str) -> str:
    """The key a verified token is remembered under: the hash of the whole token, so the
    cache never holds a usable token."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def checked_token_id(value: str) -> str:
    """A token id as given to RevokeToken: 16 lower-case hex characters.

    Raises:
        InvalidInput: It is not.
    """
    lowered = value.strip().lower()
    if not _TOKEN_ID.fullmatch(lowered):
        raise InvalidInput(f"token id {value!r} is not valid: 16 hex characters")
    return lowered
