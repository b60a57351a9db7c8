"""What counts as a secret, and copies of requests and mappings with the secrets taken out.

One rule serves every purpose: the catalog encrypts the connection properties it names, the API
leaves them out of responses unless the caller may read secrets, and the audit trail and the
logs record `[REDACTED]` in their place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

REDACTED = "[REDACTED]"

# Glue's secret connection properties; the pattern below covers them all, they are listed so
# that a change to the pattern is checked against them.
GLUE_SECRET_PROPERTIES = frozenset(
    {
        "PASSWORD",
        "ENCRYPTED_PASSWORD",
        "SECRET_ID",
        "KAFKA_CLIENT_KEYSTORE_PASSWORD",
        "KAFKA_CLIENT_KEY_PASSWORD",
        "ENCRYPTED_KAFKA_CLIENT_KEYSTORE_PASSWORD",
        "ENCRYPTED_KAFKA_CLIENT_KEY_PASSWORD",
        "KAFKA_SASL_PLAIN_PASSWORD",
        "ENCRYPTED_KAFKA_SASL_PLAIN_PASSWORD",
        "KAFKA_SASL_SCRAM_PASSWORD",
        "ENCRYPTED_KAFKA_SASL_SCRAM_PASSWORD",
        "KAFKA_SASL_SCRAM_SECRETS_ARN",
    }
)

_SECRET_KEY = re.compile(
    r"pass(word)?|pwd|secret|token|credential|private[_-]?key|api[_-]?key", re.IGNORECASE
)
# Names that match the pattern but hold no secret: a paging token is signed, not secret.
_NOT_SECRET = frozenset({"next_token", "nexttoken"})

# user:password@ in a URL, and password=... in a JDBC or query string.
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.\-]*://[^/@:\s]*:)[^/\s]*(?=@)", re.I)
_KEY_VALUE_PASSWORD = re.compile(
    r"(?P<head>(?:^|[?;&,\s])[a-z_.\-]*(?:password|pwd|secret|token)=)[^;&,\s]*", re.I
)


def is_secret_key(key: str) -> bool:
    """Whether a field, map key or property named key holds a secret.

    Names matching pass(word), pwd, secret, token, credential, private key or api key in any
    case, anywhere in the name (PASSWORD, ENCRYPTED_PASSWORD, SECRET_ID, client_secret, ...).
    The rule may only grow: stored values of keys it stops naming would stay encrypted.
    """
    return key.lower() not in _NOT_SECRET and _SECRET_KEY.search(key) is not None


def redact_text(text: str) -> str:
    """text with passwords embedded in URLs (`scheme://user:PASSWORD@host`) and in key=value
    strings (`;password=...`, `?token=...`) replaced by [REDACTED]."""
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + REDACTED, text)
    return _KEY_VALUE_PASSWORD.sub(lambda m: m.group("head") + REDACTED, text)


def redact_mapping(values: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of values, recursively, with the value of every secret key replaced by
    [REDACTED] and passwords embedded in strings taken out. values is not changed."""
    return {key: _redact_item(key, value) for key, value in values.items()}


def redact_message(message: Message) -> dict[str, Any]:
    """message as a dict (proto field names, as json_format makes it), with secret fields and
    secret map entries replaced by [REDACTED], recursively."""
    as_dict = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return redact_mapping(as_dict)


def _redact_item(key: str, value: Any) -> Any:
    # A flag about a secret (hide_password) is not one.
    if is_secret_key(key) and not isinstance(value, bool):
        return REDACTED
    return _redact_value(value)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {str(key): _redact_item(str(key), item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [_redact_value(item) for item in value]
    return value
