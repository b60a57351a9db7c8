"""`sluice principals`, `sluice tokens` and `sluice policies` against a real IamService on a
loopback port (tests/unit/test_iam_support.py), through the SDK as users run them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from sluice.control_plane.security.tokens import parse_token
from sluice.iam.v1 import types_pb2 as pb
from sluice.sdk.cli.main import cli
from sluice.sdk.cli.tokens import Duration, token_state
from sluice.sdk.client import Client, connect
from sluice.sdk.config import ClientOptions
from tests.unit.test_iam_support import ACCOUNT, OTHER_ACCOUNT, IamServer, serving_iam

pytestmark = pytest.mark.unit


@pytest.fixture
def served(tmp_path: Path) -> Iterator[IamServer]:
    with serving_iam(tmp_path) as server:
        yield server


def sluice(served: IamServer, *args: str, token: str | None = None) -> Result:
    """`sluice ARGS` against the server, as the operator unless token is given."""

    def connector(options: ClientOptions) -> Client:
        return connect(options=served.with_token(options, token))

    runner = CliRunner(
        env={
            "COLUMNS": "200",
            "SLUICE_ADDRESS": None,
            "SLUICE_CATALOG_ID": None,
            "SLUICE_TOKEN": None,
        }
    )
    return runner.invoke(cli, list(args), obj=connector, catch_exceptions=False)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def assert_one_error_line(result: Result, exit_code: int, text: str) -> None:
    assert result.exit_code == exit_code, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert text in lines[0]
    assert "Traceback" not in result.output


def fields_of(text: str) -> dict[str, str]:
    fields = {}
    for line in text.splitlines():
        name, _, value = line.partition("  ")
        fields[name] = value.strip()
    return fields


# sluice principals


def test_principals_create_get_list_update_delete(served: IamServer) -> None:
    result = ok(
        sluice(
            served,
            "principals",
            "create",
            "alice",
            "--role",
            "analyst",
            "--role",
            "etl",
            "--description",
            "Alice, data team",
        )
    )
    assert result.stdout == "Created principal alice.\n"
    shown = fields_of(ok(sluice(served, "principals", "get", "alice")).stdout)
    assert shown["Roles"] == "analyst, etl"
    assert (shown["Account"], shown["Operator"]) == (ACCOUNT, "no")
    listed = json.loads(ok(sluice(served, "-o", "json", "principals", "list")).stdout)
    assert [p["name"] for p in listed] == ["admin", "alice"]
    ok(sluice(served, "principals", "update", "alice", "--role", "reader"))
    ok(sluice(served, "principals", "update", "alice", "--certificate-subject", "alice.cn"))
    alice = served.client().iam.get_principal("alice")
    assert (list(alice.roles), alice.description, alice.certificate_subject) == (
        ["reader"],
        "Alice, data team",
        "alice.cn",
    )
    ok(sluice(served, "principals", "update", "alice", "--no-roles"))
    assert list(served.client().iam.get_principal("alice").roles) == []
    assert (
        ok(sluice(served, "principals", "delete", "alice")).stdout == "Deleted principal alice.\n"
    )
    assert_one_error_line(
        sluice(served, "principals", "get", "alice"), 1, "EntityNotFoundException"
    )


def test_principals_update_needs_a_change(served: IamServer) -> None:
    assert_one_error_line(sluice(served, "principals", "update", "admin"), 2, "nothing to change")
    assert_one_error_line(
        sluice(served, "principals", "update", "admin", "--role", "a", "--no-roles"), 2, "not both"
    )


def test_an_account_can_be_named(served: IamServer) -> None:
    ok(sluice(served, "principals", "create", "bob", "--account", OTHER_ACCOUNT))
    ok(sluice(served, "--catalog-id", OTHER_ACCOUNT, "principals", "get", "bob"))
    assert_one_error_line(sluice(served, "principals", "get", "bob"), 1, "not found")


def test_another_accounts_principal_is_not_found_for_a_non_operator(served: IamServer) -> None:
    served.client().iam.create_principal("bob", roles=["admin"], account=OTHER_ACCOUNT)
    bob = served.client().iam.create_token("bob", account=OTHER_ACCOUNT).token
    result = sluice(served, "principals", "list", "--account", ACCOUNT, token=bob)
    assert_one_error_line(result, 1, "EntityNotFoundException")


# sluice tokens


def test_tokens_create_prints_the_token_alone_and_it_works(served: IamServer) -> None:
    served.client().iam.create_principal("alice")
    result = ok(
        sluice(
            served, "tokens", "create", "alice", "--expires-in", "30d", "--description", "laptop"
        )
    )
    token = result.stdout.strip()
    assert result.stdout == token + "\n"
    parsed = parse_token(token)
    assert "not shown again" in result.stderr and parsed.token_id in result.stderr
    assert served.client(token).iam.get_principal("alice").name == "alice"
    listed = ok(sluice(served, "tokens", "list", "alice")).stdout
    # The server's clock is a test's, in 2024: the state column (by this machine's clock) is
    # checked in test_token_states.
    assert parsed.token_id in listed and "laptop" in listed
    assert parsed.secret not in listed
    (info,) = list(served.client().iam.list_tokens("alice"))
    lifetime = info.expires_on.ToDatetime() - info.created_on.ToDatetime()
    assert lifetime.total_seconds() == 30 * 86_400


def test_tokens_create_as_json(served: IamServer) -> None:
    served.client().iam.create_principal("svc")
    data = json.loads(ok(sluice(served, "-o", "json", "tokens", "create", "svc")).stdout)
    assert parse_token(data["token"]).token_id == data["token_info"]["token_id"]
    assert data["token_info"]["principal_name"] == "svc"
    assert "expires_on" not in data["token_info"]


def test_tokens_revoke_stops_the_token(served: IamServer) -> None:
    served.client().iam.create_principal("alice")
    new = served.client().iam.create_token("alice")
    ok(sluice(served, "tokens", "revoke", new.info.token_id))
    listed = json.loads(ok(sluice(served, "-o", "json", "tokens", "list", "alice")).stdout)
    assert "revoked_on" in listed[0]
    assert "revoked" in ok(sluice(served, "tokens", "list", "alice")).stdout
    result = sluice(served, "principals", "list", token=new.token)
    assert_one_error_line(result, 1, "UnauthenticatedException: invalid or expired token")


def test_token_states() -> None:
    created = datetime(2024, 5, 1, tzinfo=UTC)
    info = pb.TokenInfo(token_id="0" * 16)
    info.created_on.FromDatetime(created)
    assert token_state(info, created) == "active"
    info.expires_on.FromDatetime(created + timedelta(days=1))
    assert token_state(info, created + timedelta(hours=23)) == "active"
    assert token_state(info, created + timedelta(days=1)) == "expired"
    info.revoked_on.FromDatetime(created + timedelta(hours=1))
    assert token_state(info, created + timedelta(hours=2)) == "revoked"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("3600", 3600), ("90m", 5400), ("12h", 43_200), ("30d", 2_592_000), ("2w", 1_209_600)],
)
def test_durations(text: str, seconds: int) -> None:
    assert Duration().convert(text, None, None) == seconds


@pytest.mark.parametrize("text", ["", "0", "-5", "1y", "h", "1.5h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(click.BadParameter):
        Duration().convert(text, None, None)


def test_a_bad_duration_is_a_usage_error(served: IamServer) -> None:
    assert_one_error_line(
        sluice(served, "tokens", "create", "admin", "--expires-in", "soon"), 2, "not a duration"
    )


# sluice policies


def test_policies_put_from_flags_get_list_delete(served: IamServer) -> None:
    ok(
        sluice(
            served,
            "policies",
            "put",
            "sales",
            "--role",
            "analyst",
            "--allow",
            "glue:Get*,glue:SearchTables=table/sales/*,database/sales",
            "--deny",
            "glue:Delete*=*",
            "--description",
            "Sales readers",
        )
    )
    policy = served.client().iam.get_policy("sales")
    assert list(policy.roles) == ["analyst"]
    assert [(s.effect, list(s.actions), list(s.resources)) for s in policy.statements] == [
        (pb.EFFECT_ALLOW, ["glue:Get*", "glue:SearchTables"], ["table/sales/*", "database/sales"]),
        (pb.EFFECT_DENY, ["glue:Delete*"], ["*"]),
    ]
    shown = ok(sluice(served, "policies", "get", "sales")).stdout
    assert "Sales readers" in shown and "Deny" in shown and "glue:Delete*" in shown
    listed = json.loads(
        ok(sluice(served, "-o", "json", "policies", "list", "--role", "analyst")).stdout
    )
    assert [p["name"] for p in listed] == ["sales"]
    assert ok(sluice(served, "policies", "list", "--role", "nobody")).stdout.count("sales") == 0
    ok(sluice(served, "policies", "delete", "sales"))
    assert_one_error_line(sluice(served, "policies", "get", "sales"), 1, "Policy sales not found")


def test_policies_put_from_a_file_with_flags_added(served: IamServer, tmp_path: Path) -> None:
    document = tmp_path / "readers.yaml"
    document.write_text(
        "name: readers\n"
        "description: Read the catalog\n"
        "roles: [reader]\n"
        "statements:\n"
        "  - effect: Allow\n"
        "    actions: ['glue:Get*']\n"
        "    resources: ['*']\n"
    )
    ok(sluice(served, "policies", "put", "-f", str(document), "--deny", "glue:GetTable=table/hr/*"))
    policy = served.client().iam.get_policy("readers")
    assert (policy.description, list(policy.roles)) == ("Read the catalog", ["reader"])
    assert [s.effect for s in policy.statements] == [pb.EFFECT_ALLOW, pb.EFFECT_DENY]
    ok(sluice(served, "policies", "put", "-f", str(document), "--role", "auditor"))
    assert list(served.client().iam.get_policy("readers").roles) == ["auditor"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("- a\n", "expected a mapping"),
        ("name: p\nstatemnts: []\n", "unknown field 'statemnts'"),
        ("name: p\nstatements: {}\n", "must be lists"),
        ("name: p\nstatements:\n  - effect: Maybe\n    actions: ['*']\n", "Allow or Deny"),
        ("name: p\nstatements:\n  - effect: Allow\n    actons: ['*']\n", "unknown field 'actons'"),
    ],
)
def test_bad_policy_files_are_usage_errors(
    served: IamServer, tmp_path: Path, content: str, message: str
) -> None:
    document = tmp_path / "policy.yaml"
    document.write_text(content)
    assert_one_error_line(sluice(served, "policies", "put", "-f", str(document)), 2, message)


def test_policies_put_needs_a_name_and_statements(served: IamServer) -> None:
    assert_one_error_line(sluice(served, "policies", "put", "--allow", "*=*"), 2, "NAME")
    assert_one_error_line(sluice(served, "policies", "put", "p"), 2, "at least one statement")
    assert_one_error_line(
        sluice(served, "policies", "put", "p", "--allow", "glue:GetTable"), 2, "ACTIONS=RESOURCES"
    )


def test_server_side_validation_is_one_error_line_and_exit_2(served: IamServer) -> None:
    result = sluice(served, "policies", "put", "p", "--allow", "GetTable=*")
    # Bad input is exit 2, whether click, the client or the server catches it.
    assert_one_error_line(result, 2, "InvalidInputException")
    assert "not an action pattern" in result.stderr
