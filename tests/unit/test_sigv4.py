"""SigV4 verification against botocore's own signer: what botocore signs, the door's canonical
request hash and the authenticator's signature check accept; anything else they refuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from sluice.common.errors import IncompleteSignature, InvalidSignature
from sluice.control_plane.security import sigv4

pytestmark = pytest.mark.unit

KEY_ID, SECRET = "AKIA" + "A" * 16, "s" * 40
BODY = b'{"Name": "sales"}'


def signed(secret: str = SECRET, body: bytes = BODY) -> dict[str, str]:
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:9999/",
        data=body,
        headers={
            "X-Amz-Target": "AWSGlue.GetDatabase",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    SigV4Auth(Credentials(KEY_ID, secret), "glue", "eu-west-1").add_auth(request)
    headers = {name.lower(): value for name, value in request.headers.items()}
    headers["host"] = "127.0.0.1:9999"
    return headers


def verify(headers: dict[str, str], body: bytes = BODY, now: datetime | None = None) -> bool:
    parsed = sigv4.parse_authorization(headers["authorization"])
    digest = sigv4.canonical_request_sha256("POST", "/", "", headers, parsed.signed_headers, body)
    sigv4.check_date(parsed, headers["x-amz-date"], now or datetime.now(UTC))
    key = sigv4.signing_key(SECRET, parsed)
    return sigv4.signature_matches(key, parsed, headers["x-amz-date"], digest)


def test_what_botocore_signs_verifies() -> None:
    headers = signed()
    parsed = sigv4.parse_authorization(headers["authorization"])
    assert (parsed.access_key_id, parsed.region, parsed.service) == (KEY_ID, "eu-west-1", "glue")
    assert verify(headers)


def test_another_secret_or_body_does_not() -> None:
    assert not verify(signed(secret="t" * 40))
    assert not verify(signed(), body=b'{"Name": "other"}')
    tampered = {**signed(), "x-amz-target": "AWSGlue.DeleteDatabase"}
    assert not verify(tampered)


def test_stale_or_future_dates_are_refused() -> None:
    headers = signed()
    with pytest.raises(InvalidSignature, match="Signature expired"):
        verify(headers, now=datetime.now(UTC) + timedelta(minutes=6))
    with pytest.raises(InvalidSignature):
        verify(headers, now=datetime.now(UTC) - timedelta(minutes=6))
    assert verify(headers, now=datetime.now(UTC) + timedelta(minutes=4))


@pytest.mark.parametrize(
    "header",
    [
        "Bearer slk_x",
        "AWS4-HMAC-SHA256 Credential=AKIA/20240101/us-east-1/glue/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKIA/x, SignedHeaders=host, Signature=ab",
    ],
)
def test_malformed_headers_are_incomplete_signatures(header: str) -> None:
    with pytest.raises(IncompleteSignature):
        sigv4.parse_authorization(header)


def test_unsigned_host_or_missing_signed_header_is_incomplete() -> None:
    with pytest.raises(IncompleteSignature):
        sigv4.canonical_request_sha256("POST", "/", "", {}, ("x-amz-date",), b"")
    with pytest.raises(IncompleteSignature):
        sigv4.canonical_request_sha256("POST", "/", "", {"host": "h"}, ("host", "x-amz-date"), b"")
