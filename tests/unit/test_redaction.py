"""Which keys are secret, and redacted copies of mappings and request messages."""

from __future__ import annotations

import pytest

from sluice.catalog.v1 import catalog_pb2 as api
from sluice.catalog.v1 import types_pb2 as pb
from sluice.common.redaction import (
    GLUE_SECRET_PROPERTIES,
    REDACTED,
    is_secret_key,
    redact_mapping,
    redact_message,
    redact_text,
)
from sluice.jobs.v1 import jobs_pb2 as jobs_api

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "key",
    [
        *sorted(GLUE_SECRET_PROPERTIES),
        "password",
        "Password",
        "db_pass",
        "JDBC_PWD",
        "client_secret",
        "SecretAccessKey",
        "api_token",
        "AccessToken",
        "aws_credentials",
        "CREDENTIAL_FILE",
        "private_key",
        "private-key",
        "PRIVATEKEY",
        "x-api-key",
        "--db-password",
    ],
)
def test_secret_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "USERNAME",
        "JDBC_CONNECTION_URL",
        "HOST",
        "PORT",
        "KAFKA_BOOTSTRAP_SERVERS",
        "name",
        "description",
        "public_key_id",
        "next_token",
        "NextToken",
    ],
)
def test_keys_that_are_not_secret(key: str) -> None:
    assert not is_secret_key(key)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://etl:hunter2@db:5432/dw", f"postgresql://etl:{REDACTED}@db:5432/dw"),
        ("postgresql://etl:p@ss@db/dw", f"postgresql://etl:{REDACTED}@db/dw"),
        ("jdbc:postgresql://db:5432/dw", "jdbc:postgresql://db:5432/dw"),
        ("jdbc:sqlserver://db;user=etl;password=hunter2;db=dw", None),
        ("Driver=x;UID=etl;PWD=hunter2", f"Driver=x;UID=etl;PWD={REDACTED}"),
        ("https://h/p?access_token=hunter2&x=1", f"https://h/p?access_token={REDACTED}&x=1"),
        ("password=hunter2", f"password={REDACTED}"),
        ("s3://bucket/path/file.csv", "s3://bucket/path/file.csv"),
        ("http://h:80/p?a=b@c", "http://h:80/p?a=b@c"),
    ],
)
def test_redact_text(text: str, expected: str | None) -> None:
    out = redact_text(text)
    assert "hunter2" not in out
    assert "p@ss" not in out
    if expected is not None:
        assert out == expected


def test_redact_mapping_replaces_secret_values_recursively_without_changing_input() -> None:
    values = {
        "name": "warehouse",
        "PASSWORD": "hunter2",
        "hide_password": True,
        "nested": {
            "client_secret": "s1",
            "items": [{"token": "t1", "keep": "k"}, "postgresql://u:hunter2@h/db", 3],
        },
        "credentials": {"user": "u", "key": "v"},
        "count": 2,
    }
    original = repr(values)
    redacted = redact_mapping(values)
    assert repr(values) == original
    assert redacted == {
        "name": "warehouse",
        "PASSWORD": REDACTED,
        "hide_password": True,
        "nested": {
            "client_secret": REDACTED,
            "items": [{"token": REDACTED, "keep": "k"}, f"postgresql://u:{REDACTED}@h/db", 3],
        },
        "credentials": REDACTED,
        "count": 2,
    }


def test_redact_message_connection_input() -> None:
    request = api.CreateConnectionRequest(
        catalog_id="123",
        connection_input=pb.ConnectionInput(
            name="warehouse",
            connection_type="JDBC",
            connection_properties={
                "JDBC_CONNECTION_URL": "jdbc:postgresql://etl:hunter2@db/dw",
                "USERNAME": "etl",
                "PASSWORD": "hunter2",
                "ENCRYPTED_PASSWORD": "hunter3",
                "SECRET_ID": "arn:aws:secretsmanager:x",
            },
        ),
    )
    out = redact_message(request)
    assert "hunter" not in repr(out)
    assert out["catalog_id"] == "123"
    properties = out["connection_input"]["connection_properties"]
    assert properties["USERNAME"] == "etl"
    assert properties["PASSWORD"] == REDACTED
    assert properties["ENCRYPTED_PASSWORD"] == REDACTED
    assert properties["SECRET_ID"] == REDACTED
    assert properties["JDBC_CONNECTION_URL"] == f"jdbc:postgresql://etl:{REDACTED}@db/dw"
    # The message itself is untouched.
    assert request.connection_input.connection_properties["PASSWORD"] == "hunter2"


def test_redact_message_keeps_flags_and_paging() -> None:
    request = api.GetConnectionsRequest(
        catalog_id="123", hide_password=True, next_token="tok.sig", max_results=5
    )
    assert redact_message(request) == {
        "catalog_id": "123",
        "hide_password": True,
        "next_token": "tok.sig",
        "max_results": 5,
    }


def test_redact_message_job_run_arguments() -> None:
    request = jobs_api.StartJobRunRequest(
        job_name="daily", arguments={"--day": "2024-05-01", "--db-password": "hunter2"}
    )
    out = redact_message(request)
    assert out["arguments"] == {"--day": "2024-05-01", "--db-password": REDACTED}
