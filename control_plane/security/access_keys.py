"""Access key pairs: what Glue clients (boto3, the AWS CLI, Terraform) sign requests with.

An access key id reads like AWS's (`AKIA` and 16 upper-case letters and digits) and is public;
the secret access key is 40 random characters. SigV4 verification needs the secret itself (it
keys an HMAC), so unlike an API token's secret it cannot be kept as a hash: the store keeps it
encrypted with the server's secret key, as connection passwords are.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime

from sluice.common.errors import InvalidInput

ACCESS_KEY_PREFIX = "AKIA"
_ID_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"
_ACCESS_KEY_ID = re.compile(r"[A-Z0-9]{16,128}")
# AWS's own secrets are 40 characters of base64; a registered one may be any printable text.
_SECRET = re.compile(r"[\x21-\x7e]{16,128}")


@dataclass(frozen=True)
class AccessKeyInfo:
    """What may be shown of an access key: everything but its secret."""

    access_key_id: str
    account: str
    principal_name: str
    description: str
    created_on: datetime


@dataclass(frozen=True)
class IssuedAccessKey:
    """An access key just created: its secret (never shown again) and its info."""

    secret_access_key: str
    info: AccessKeyInfo

    def __repr__(self) -> str:
        return f"IssuedAccessKey(secret_access_key=..., info={self.info!r})"


@dataclass(frozen=True)
class NewAccessKey:
    """An access key pair to store: made here, or registered by the operator."""

    access_key_id: str
    secret_access_key: str

    def __repr__(self) -> str:
        return f"NewAccessKey(access_key_id={self.access_key_id!r}, secret_access_key=...)"


def new_access_key() -> NewAccessKey:
    """A new random pair."""
    key_id = ACCESS_KEY_PREFIX + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))
    secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
    return NewAccessKey(access_key_id=key_id, secret_access_key=secret)


def given_access_key(access_key_id: str, secret_access_key: str) -> NewAccessKey:
    """An existing pair to register, checked.

    Raises:
        InvalidInput: the id or the secret is not of a usable form.
    """
    return NewAccessKey(
        access_key_id=checked_access_key_id(access_key_id),
        secret_access_key=_checked_secret(secret_access_key),
    )


def checked_access_key_id(value: str) -> str:
    """An access key id: 16 to 128 upper-case letters and digits.

    Raises:
        InvalidInput: It is not.
    """
    if not _ACCESS_KEY_ID.fullmatch(value):
        raise InvalidInput(
            f"access key id {value!r} is not valid: 16 to 128 upper-case letters and digits"
        )
    return value


def _checked_secret(value: str) -> str:
    if not _SECRET.fullmatch(value):
        raise InvalidInput(
            "secret access key is not valid: 16 to 128 printable characters, no spaces"
        )
    return value
