"""IamService through a real gRPC server on a loopback port, called with the SDK: the servicer over
a SQL identity store on SQLite, the error interceptor, and a stand-in for the auth interceptor
that authenticates bearer tokens with the real Authenticator (tests/unit/test_iam_support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import grpc
import pytest

from sluice.control_plane.security.tokens import INVALID_TOKEN, parse_token
from sluice.iam.v1 import iam_pb2, iam_pb2_grpc
from sluice.iam.v1 import types_pb2 as pb
from sluice.sdk.client import Client
from sluice.sdk.errors import (
    AccessDenied,
    AlreadyExists,
    EntityNotFound,
    InvalidInput,
    InvalidState,
    SluiceError,
    Unauthenticated,
)
from tests.unit.test_iam_support import ACCOUNT, OTHER_ACCOUNT, IamServer, serving_iam

pytestmark = pytest.mark.integration

READ_SALES = {"effect": "Allow", "actions": ["glue:Get*"], "resources": ["table/sales/*"]}


@pytest.fixture
def iam(tmp_path: Path) -> Iterator[IamServer]:
    with serving_iam(tmp_path) as served:
        yield served


@pytest.fixture
def admin(iam: IamServer) -> Client:
    return iam.client()


@pytest.fixture
def stub(iam: IamServer) -> Iterator[iam_pb2_grpc.IamServiceStub]:
    """The generated stub, for what the SDK hides (pages, raw messages); sends no token."""
    with grpc.insecure_channel(iam.address) as channel:
        yield iam_pb2_grpc.IamServiceStub(channel)


def as_admin(iam: IamServer) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {iam.admin_token}"),)


def token_for(admin: Client, name: str, *, account: str | None = None, **principal: object) -> str:
    admin.iam.create_principal(name, account=account, **principal)  # type: ignore[arg-type]
    return admin.iam.create_token(name, account=account).token


def assert_no_traceback(error: SluiceError) -> None:
    assert error.message
    assert "Traceback" not in error.message and 'File "' not in error.message


# Authentication


def test_the_bootstrapped_operator_can_call(iam: IamServer, admin: Client) -> None:
    me = admin.iam.get_principal("admin")
    assert (me.account, me.operator, list(me.roles)) == (ACCOUNT, True, ["admin"])


def test_calls_without_a_valid_token_are_refused(iam: IamServer) -> None:
    parsed = parse_token(iam.admin_token)
    forged = f"slk_{parsed.token_id}_{'A' * 43}"
    for token in ("", "not-a-token", forged, iam.admin_token + "x"):
        with pytest.raises(Unauthenticated) as caught:
            next(iam.client(token).iam.list_principals())
        assert caught.value.code is grpc.StatusCode.UNAUTHENTICATED
        assert_no_traceback(caught.value)
    with pytest.raises(Unauthenticated) as caught:
        iam.client(forged).iam.get_principal("admin")
    assert caught.value.message == INVALID_TOKEN


def test_revocation_takes_effect_on_the_next_call(iam: IamServer, admin: Client) -> None:
    alice = iam.client(token_for(admin, "alice"))
    assert alice.iam.get_principal("alice").name == "alice"
    (info,) = list(admin.iam.list_tokens("alice"))
    revoked = admin.iam.revoke_token(info.token_id)
    assert revoked.HasField("revoked_on")
    with pytest.raises(Unauthenticated) as caught:
        alice.iam.get_principal("alice")
    assert caught.value.message == INVALID_TOKEN


def test_a_deleted_principals_tokens_are_refused(iam: IamServer, admin: Client) -> None:
    bob = iam.client(token_for(admin, "bob"))
    bob.iam.get_principal("bob")
    admin.iam.delete_principal("bob")
    with pytest.raises(Unauthenticated):
        bob.iam.get_principal("bob")
    with pytest.raises(EntityNotFound):
        list(admin.iam.list_tokens("bob"))


def test_expired_tokens_are_refused(iam: IamServer, admin: Client) -> None:
    admin.iam.create_principal("temp")
    new = admin.iam.create_token("temp", expires_in=timedelta(minutes=1), description="short")
    assert new.info.expires_on.ToDatetime() - new.info.created_on.ToDatetime() == timedelta(
        minutes=1
    )
    temp = iam.client(new.token)
    temp.iam.get_principal("temp")
    iam.clock.advance(60)
    with pytest.raises(Unauthenticated) as caught:
        temp.iam.get_principal("temp")
    assert caught.value.message == INVALID_TOKEN


def test_run_tokens_are_refused_once_the_run_ends(iam: IamServer, admin: Client) -> None:
    token = iam.store.issue_run_token(
        ACCOUNT, "jr_7", "arn:sluice:role/etl", iam.clock() + timedelta(hours=1)
    )
    iam.active_runs.add("jr_7")
    run = iam.client(token)
    assert run.iam.get_principal("run/jr_7").run_id == "jr_7"
    iam.active_runs.discard("jr_7")
    with pytest.raises(Unauthenticated) as caught:
        run.iam.get_principal("run/jr_7")
    assert "run has ended" in caught.value.message


# Account isolation


def test_another_accounts_identities_do_not_exist_for_a_non_operator(
    iam: IamServer, admin: Client
) -> None:
    admin.iam.put_policy("readers", [READ_SALES], roles=["reader"])
    operator_token_id = next(admin.iam.list_tokens("admin")).token_id
    bob = iam.client(token_for(admin, "bob", account=OTHER_ACCOUNT, roles=["admin"]))
    assert [p.name for p in bob.iam.list_principals()] == ["bob"]
    calls = [
        lambda: bob.iam.get_principal("admin", account=ACCOUNT),
        lambda: list(bob.iam.list_principals(account=ACCOUNT)),
        lambda: bob.iam.create_principal("mole", account=ACCOUNT),
        lambda: bob.iam.update_principal("admin", description="x", account=ACCOUNT),
        lambda: bob.iam.delete_principal("admin", account=ACCOUNT),
        lambda: bob.iam.create_token("admin", account=ACCOUNT),
        lambda: list(bob.iam.list_tokens("admin", account=ACCOUNT)),
        lambda: bob.iam.revoke_token(operator_token_id, account=ACCOUNT),
        lambda: bob.iam.revoke_token(operator_token_id),
        lambda: bob.iam.get_policy("readers", account=ACCOUNT),
        lambda: list(bob.iam.list_policies(account=ACCOUNT)),
        lambda: bob.iam.put_policy("p", [READ_SALES], account=ACCOUNT),
        lambda: bob.iam.delete_policy("readers", account=ACCOUNT),
        lambda: bob.iam.get_principal("admin"),
        lambda: bob.iam.get_policy("readers"),
    ]
    for call in calls:
        with pytest.raises(EntityNotFound) as caught:
            call()
        assert caught.value.code is grpc.StatusCode.NOT_FOUND
    # Nothing was changed in the other account.
    assert admin.iam.get_principal("admin").description != "x"
    assert [p.name for p in admin.iam.list_policies()] == ["readers"]
    assert not next(admin.iam.list_tokens("admin")).HasField("revoked_on")
    with pytest.raises(EntityNotFound):
        admin.iam.get_principal("mole")


def test_the_operator_acts_in_any_account(iam: IamServer, admin: Client) -> None:
    admin.iam.create_principal("carol", roles=["etl"], account=OTHER_ACCOUNT)
    carol = admin.iam.get_principal("carol", account=OTHER_ACCOUNT)
    assert carol.account == OTHER_ACCOUNT
    new = admin.iam.create_token("carol", account=OTHER_ACCOUNT)
    assert new.info.account == OTHER_ACCOUNT
    admin.iam.put_policy("etl", [READ_SALES], roles=["etl"], account=OTHER_ACCOUNT)
    assert [p.name for p in admin.iam.list_policies(account=OTHER_ACCOUNT)] == ["etl"]
    assert [p.name for p in admin.iam.list_policies()] == []
    admin.iam.revoke_token(new.info.token_id, account=OTHER_ACCOUNT)
    with pytest.raises(Unauthenticated):
        iam.client(new.token).iam.get_principal("carol")


def test_only_operators_manage_operator_principals(iam: IamServer, admin: Client) -> None:
    dave = iam.client(token_for(admin, "dave", roles=["admin"]))
    denied = [
        lambda: dave.iam.create_principal("op2", operator=True),
        lambda: dave.iam.create_token("admin"),
        lambda: dave.iam.update_principal("admin", roles=["admin", "x"]),
        lambda: dave.iam.delete_principal("admin"),
        lambda: dave.iam.revoke_token(next(admin.iam.list_tokens("admin")).token_id),
    ]
    for call in denied:
        with pytest.raises(AccessDenied) as caught:
            call()
        assert caught.value.code is grpc.StatusCode.PERMISSION_DENIED
    # What an account admin may do: manage the account's other principals and see the operator.
    assert dave.iam.get_principal("admin").operator
    dave.iam.create_principal("erin", roles=["reader"])
    assert dave.iam.create_token("erin").token
    op2 = admin.iam.create_principal("op2", operator=True, roles=["admin"])
    assert op2.operator


def test_the_last_operator_cannot_delete_itself(iam: IamServer, admin: Client) -> None:
    with pytest.raises(InvalidState) as caught:
        admin.iam.delete_principal("admin")
    assert caught.value.code is grpc.StatusCode.FAILED_PRECONDITION


# Principals, tokens, policies


def test_principals_round_trip_and_page(
    iam: IamServer, admin: Client, stub: iam_pb2_grpc.IamServiceStub
) -> None:
    created = admin.iam.create_principal(
        "Svc", roles=["etl", "reader"], description="A service", certificate_subject="svc.local"
    )
    assert (created.name, list(created.roles), created.certificate_subject) == (
        "svc",
        ["etl", "reader"],
        "svc.local",
    )
    assert created.HasField("created_on") and created.id
    with pytest.raises(AlreadyExists):
        admin.iam.create_principal("svc")
    with pytest.raises(InvalidInput):
        admin.iam.create_principal("run/jr_1")
    updated = admin.iam.update_principal("svc", roles=[], certificate_subject="")
    assert list(updated.roles) == [] and updated.certificate_subject == ""
    assert updated.description == "A service"
    for i in range(5):
        admin.iam.create_principal(f"user{i}")
    metadata = as_admin(iam)
    pages, token = [], ""
    while True:
        page = stub.ListPrincipals(
            iam_pb2.ListPrincipalsRequest(max_results=3, next_token=token), metadata=metadata
        )
        pages.append([p.name for p in page.principals])
        token = page.next_token
        if not token:
            break
    assert pages == [["admin", "svc", "user0"], ["user1", "user2", "user3"], ["user4"]]
    assert [p.name for p in admin.iam.list_principals(page_size=2)] == [
        name for page in pages for name in page
    ]
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListPrincipals(
            iam_pb2.ListPrincipalsRequest(next_token="forged.token"), metadata=metadata
        )
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]


def test_a_token_is_shown_once_and_never_listed(
    iam: IamServer, admin: Client, stub: iam_pb2_grpc.IamServiceStub
) -> None:
    admin.iam.create_principal("alice")
    new = admin.iam.create_token("alice", description="laptop")
    secret = parse_token(new.token).secret
    assert new.token not in repr(new)
    metadata = as_admin(iam)
    listed = stub.ListTokens(iam_pb2.ListTokensRequest(principal_name="alice"), metadata=metadata)
    assert [t.token_id for t in listed.tokens] == [new.info.token_id]
    assert secret.encode() not in listed.SerializeToString()
    assert listed.tokens[0].description == "laptop"
    assert not listed.tokens[0].HasField("expires_on")
    with pytest.raises(grpc.RpcError) as caught:
        stub.CreateToken(
            iam_pb2.CreateTokenRequest(principal_name="alice", expires_in_seconds=-5),
            metadata=metadata,
        )
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert "expires_in_seconds" in caught.value.details()  # type: ignore[attr-defined]


def test_policies_round_trip(
    iam: IamServer, admin: Client, stub: iam_pb2_grpc.IamServiceStub
) -> None:
    deny = {"effect": "deny", "actions": ["glue:Delete*"], "resources": ["*"]}
    put = admin.iam.put_policy(
        "Sales", [READ_SALES, deny], roles=["analyst", "etl"], description="Sales team"
    )
    assert (put.name, list(put.roles), put.description) == (
        "sales",
        ["analyst", "etl"],
        "Sales team",
    )
    assert [s.effect for s in put.statements] == [pb.EFFECT_ALLOW, pb.EFFECT_DENY]
    assert admin.iam.get_policy("sales") == put
    admin.iam.put_policy("other", [READ_SALES], roles=["reader"])
    assert [p.name for p in admin.iam.list_policies(role="etl")] == ["sales"]
    assert [p.name for p in admin.iam.list_policies(page_size=1)] == ["other", "sales"]
    admin.iam.delete_policy("sales")
    with pytest.raises(EntityNotFound):
        admin.iam.get_policy("sales")
    unspecified = iam_pb2.PutPolicyRequest(
        name="bad",
        statements=[pb.Statement(actions=["*"], resources=["*"])],
    )
    with pytest.raises(grpc.RpcError) as caught:
        stub.PutPolicy(unspecified, metadata=as_admin(iam))
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert "statements[0].effect" in caught.value.details()  # type: ignore[attr-defined]
