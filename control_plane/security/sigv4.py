"""AWS Signature Version 4, as Glue clients (boto3, the AWS CLI, Terraform) sign requests.

Split in two so that the door holds no secret: the door turns the HTTP request into the hash of
its canonical request (`canonical_request_sha256`), and the authenticator, which has the access
key's secret, recomputes the signature over it (`expected_signature`). See
https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

from sluice.common.errors import IncompleteSignature, InvalidSignature

ALGORITHM = "AWS4-HMAC-SHA256"
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
# AWS refuses a request signed more than 5 minutes away from its clock.
MAX_SKEW = timedelta(minutes=5)
_PART = re.compile(r"\s*(Credential|SignedHeaders|Signature)\s*=\s*([^,\s]*)\s*")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class SignedRequest:
    """The parts of an Authorization header: who signed, for what scope, over which headers."""

    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


def parse_authorization(header: str) -> SignedRequest:
    """The parts of a SigV4 Authorization header.

    Raises:
        IncompleteSignature: It is not one (another scheme, a part missing or malformed).
    """
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignature(f"Authorization header requires the {ALGORITHM} algorithm")
    parts: dict[str, str] = {}
    for item in rest.split(","):
        match = _PART.fullmatch(item)
        if match is None:
            raise IncompleteSignature(f"Authorization header is malformed: {item.strip()!r}")
        parts[match.group(1)] = match.group(2)
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if not parts.get(name)]
    if missing:
        raise IncompleteSignature(
            "Authorization header requires " + ", ".join(f"'{name}'" for name in missing)
        )
    scope = parts["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not all(scope):
        raise IncompleteSignature(
            "Credential must be <access key id>/<date>/<region>/<service>/aws4_request"
        )
    return SignedRequest(
        access_key_id=scope[0],
        date=scope[1],
        region=scope[2],
        service=scope[3],
        signed_headers=tuple(parts["SignedHeaders"].split(";")),
        signature=parts["Signature"].lower(),
    )


def canonical_request_sha256(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    signed_headers: tuple[str, ...],
    body: bytes,
) -> str:
    """The hex SHA-256 of the canonical request of an HTTP request.

    headers: the request's headers by lower-case name (repeated ones joined with ",").

    Raises:
        IncompleteSignature: A signed header is missing from the request, or host is not signed.
    """
    if "host" not in signed_headers:
        raise IncompleteSignature("the host header must be signed")
    lines = []
    for name in signed_headers:
        value = headers.get(name)
        if value is None:
            raise IncompleteSignature(f"signed header {name!r} is missing from the request")
        lines.append(f"{name}:{_SPACES.sub(' ', value.strip())}\n")
    payload_hash = headers.get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest()
    canonical = "\n".join(
        [
            method.upper(),
            _canonical_path(path),
            _canonical_query(query),
            "".join(lines),
            ";".join(signed_headers),
            payload_hash,
        ]
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def check_date(signed: SignedRequest, amz_date: str, now: datetime) -> None:
    """The request's X-Amz-Date is well-formed, agrees with the credential's date, and is
    within MAX_SKEW of now.

    Raises:
        IncompleteSignature: It is missing or malformed.
        InvalidSignature: It is too far from now, or not the credential's date.
    """
    try:
        signed_at = datetime.strptime(amz_date, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise IncompleteSignature("X-Amz-Date must be a date like 20240101T000000Z") from None
    if amz_date[:8] != signed.date:
        raise InvalidSignature("the credential's date is not the date of X-Amz-Date")
    if abs(now - signed_at) > MAX_SKEW:
        raise InvalidSignature(
            f"Signature expired: {amz_date} is now earlier or later than "
            f"{(now - MAX_SKEW).strftime(AMZ_DATE_FORMAT)} - "
            f"{(now + MAX_SKEW).strftime(AMZ_DATE_FORMAT)}"
        )


def signing_key(secret_access_key: str, signed: SignedRequest) -> bytes:
    """The key of the credential's scope (a day, a region, a service)."""
    key = _hmac(f"AWS4{secret_access_key}".encode(), signed.date)
    for part in (signed.region, signed.service, "aws4_request"):
        key = _hmac(key, part)
    return key


def signature_matches(
    key: bytes, signed: SignedRequest, amz_date: str, canonical_sha256: str
) -> bool:
    """Whether the request's signature is the one key makes over the canonical request."""
    string_to_sign = "\n".join([ALGORITHM, amz_date, signed.scope, canonical_sha256])
    expected = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signed.signature)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def _canonical_path(path: str) -> str:
    return quote(unquote(path or "/"), safe="/-_.~")


def _canonical_query(query: str) -> str:
    if not query:
        return ""
    pairs = []
    for item in query.split("&"):
        name, _, value = item.partition("=")
        pairs.append(
            (
                quote(unquote(name), safe="-_.~"),
                quote(unquote(value.replace("+", " ")), safe="-_.~"),
            )
        )
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))
