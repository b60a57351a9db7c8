"""The identity store contract, run unchanged against SQLite and PostgreSQL.

Every test works in accounts of its own, so tests share one migrated schema per backend.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from sluice.common.errors import (
    AlreadyExists,
    EntityNotFound,
    FailedPrecondition,
    InvalidInput,
)
from sluice.common.paging import PageRequest, PageTokenCodec
from sluice.control_plane.security.model import PolicyInput, PrincipalInput, PrincipalUpdate
from sluice.control_plane.security.policy import Effect, Statement
from sluice.control_plane.security.schema import upgrade_schema
from sluice.control_plane.security.sql_identity import SqlIdentityStore
from sluice.control_plane.security.tokens import parse_token, secret_hash
from tests.contract.conftest import TOKEN_KEY, Backend, Catalog, new_catalog_id

pytestmark = pytest.mark.contract

READ = Statement(Effect.ALLOW, ("glue:Get*",), ("table/sales/*",))
NO_DELETE = Statement(Effect.DENY, ("glue:Delete*",), ("*",))


@pytest.fixture(scope="session")
def identity_backend(backend: Backend) -> Backend:
    upgrade_schema(backend.db)
    upgrade_schema(backend.db)  # idempotent: a restart migrates nothing
    return backend


@pytest.fixture
def store(identity_backend: Backend) -> SqlIdentityStore:
    return SqlIdentityStore(identity_backend.db, PageTokenCodec(TOKEN_KEY))


@pytest.fixture
def acct() -> str:
    return new_catalog_id()


def later(**delta: float) -> datetime:
    return datetime.now(UTC) + timedelta(**delta)


def every(list_call: Callable[[PageRequest], object], max_results: int = 0) -> list:  # type: ignore[type-arg]
    return Catalog.all(list_call, max_results)  # type: ignore[arg-type]


# Principals


def test_principals_are_created_and_read_case_insensitively(
    store: SqlIdentityStore, acct: str
) -> None:
    created = store.create_principal(
        acct,
        PrincipalInput(
            name="Alice", roles=("reader", "writer", "reader"), description="Alice, data team"
        ),
    )
    assert (created.name, created.account, created.roles) == ("alice", acct, ("reader", "writer"))
    assert not created.operator and created.run_id == "" and created.certificate_subject == ""
    assert created.created_on.tzinfo is not None
    assert store.get_principal(acct, "ALICE") == created
    with pytest.raises(AlreadyExists, match="Principal alice already exists"):
        store.create_principal(acct, PrincipalInput(name="alice"))


def test_principals_belong_to_one_account(store: SqlIdentityStore, acct: str) -> None:
    other = new_catalog_id()
    mine = store.create_principal(acct, PrincipalInput(name="alice"))
    theirs = store.create_principal(other, PrincipalInput(name="alice"))
    assert mine.id != theirs.id
    store.delete_principal(other, "alice")
    with pytest.raises(EntityNotFound, match="Principal alice not found"):
        store.get_principal(other, "alice")
    assert store.get_principal(acct, "alice") == mine


@pytest.mark.parametrize(
    "principal_input",
    [
        PrincipalInput(name=""),
        PrincipalInput(name="run/jr_1"),
        PrincipalInput(name="has space"),
        PrincipalInput(name="x" * 256),
        PrincipalInput(name="ok", roles=("",)),
        PrincipalInput(name="ok", roles=(" padded",)),
        PrincipalInput(name="ok", roles=("bad\nrole",)),
        PrincipalInput(name="ok", roles=tuple(f"r{i}" for i in range(51))),
        PrincipalInput(name="ok", certificate_subject="x" * 256),
        PrincipalInput(name="ok", description="\x00"),
    ],
)
def test_bad_principals_are_refused(
    store: SqlIdentityStore, acct: str, principal_input: PrincipalInput
) -> None:
    with pytest.raises(InvalidInput):
        store.create_principal(acct, principal_input)
    assert every(lambda page: store.list_principals(acct, page)) == []


def test_bad_accounts_are_refused(store: SqlIdentityStore) -> None:
    for account in ("", "has space", "a/b"):
        with pytest.raises(InvalidInput):
            store.create_principal(account, PrincipalInput(name="alice"))


def test_principals_are_listed_by_name_in_pages(store: SqlIdentityStore, acct: str) -> None:
    names = [f"user-{i}" for i in (5, 3, 0, 6, 1, 4, 2)]
    for name in names:
        store.create_principal(acct, PrincipalInput(name=name))
    store.create_principal(new_catalog_id(), PrincipalInput(name="elsewhere"))
    first = store.list_principals(acct, PageRequest(max_results=3))
    assert [p.name for p in first.items] == ["user-0", "user-1", "user-2"]
    assert first.next_token
    listed = every(lambda page: store.list_principals(acct, page), max_results=3)
    assert [p.name for p in listed] == sorted(names)
    with pytest.raises(InvalidInput):
        store.list_principals(new_catalog_id(), PageRequest(next_token=first.next_token))
    with pytest.raises(InvalidInput):
        store.list_principals(acct, PageRequest(next_token=first.next_token[:-2] + "xx"))


def test_updates_change_only_what_they_name(store: SqlIdentityStore, acct: str) -> None:
    before = store.create_principal(
        acct, PrincipalInput(name="svc", roles=("etl",), description="d", certificate_subject="cn")
    )
    after = store.update_principal(acct, "svc", PrincipalUpdate(roles=("etl", "reader")))
    assert after.roles == ("etl", "reader")
    assert (after.description, after.certificate_subject) == ("d", "cn")
    assert after.last_modified_on >= before.last_modified_on
    after = store.update_principal(acct, "svc", PrincipalUpdate(description=""))
    assert after.description == "" and after.roles == ("etl", "reader")
    after = store.update_principal(acct, "svc", PrincipalUpdate(roles=(), certificate_subject=""))
    assert after.roles == () and after.certificate_subject == ""
    assert store.principal_by_certificate("cn") is None
    with pytest.raises(EntityNotFound):
        store.update_principal(acct, "nobody", PrincipalUpdate(description="x"))


def test_certificate_subjects_are_unique_across_accounts(
    store: SqlIdentityStore, acct: str
) -> None:
    subject = f"svc-{uuid.uuid4().hex}.example"
    store.create_principal(acct, PrincipalInput(name="svc", certificate_subject=subject))
    found = store.principal_by_certificate(subject)
    assert found is not None and (found.name, found.account) == ("svc", acct)
    other = new_catalog_id()
    with pytest.raises(AlreadyExists, match="already in use") as caught:
        store.create_principal(other, PrincipalInput(name="svc", certificate_subject=subject))
    assert acct not in caught.value.message
    store.create_principal(other, PrincipalInput(name="svc"))
    with pytest.raises(AlreadyExists):
        store.update_principal(other, "svc", PrincipalUpdate(certificate_subject=subject))
    # Setting a principal's own subject again is no conflict.
    store.update_principal(acct, "svc", PrincipalUpdate(certificate_subject=subject))
    assert store.principal_by_certificate("") is None


def test_deleting_a_principal_deletes_its_tokens(store: SqlIdentityStore, acct: str) -> None:
    store.create_principal(acct, PrincipalInput(name="alice"))
    token_id = store.create_token(acct, "alice").info.token_id
    store.delete_principal(acct, "alice")
    assert store.lookup_token(token_id) is None
    with pytest.raises(EntityNotFound):
        store.delete_principal(acct, "alice")
    with pytest.raises(EntityNotFound):
        store.create_token(acct, "alice")


def test_the_last_operator_cannot_be_deleted(store: SqlIdentityStore, acct: str) -> None:
    # Other tests' operators may share the schema: delete down to this test's last one.
    store.create_principal(acct, PrincipalInput(name="op1", operator=True))
    store.create_principal(acct, PrincipalInput(name="op2", operator=True))
    assert store.has_operator()
    store.delete_principal(acct, "op1")
    _delete_other_operators(store, keep=(acct, "op2"))
    with pytest.raises(FailedPrecondition, match="last operator"):
        store.delete_principal(acct, "op2")
    assert store.get_principal(acct, "op2").operator


def _delete_other_operators(store: SqlIdentityStore, keep: tuple[str, str]) -> None:
    from sqlalchemy import delete, select

    from sluice.control_plane.security.rows import PRINCIPALS, TOKENS

    with store._db.write() as conn:
        ids = (
            conn.execute(
                select(PRINCIPALS.c.id).where(
                    PRINCIPALS.c.operator.is_(True),
                    ~((PRINCIPALS.c.account == keep[0]) & (PRINCIPALS.c.name == keep[1])),
                )
            )
            .scalars()
            .all()
        )
        conn.execute(delete(TOKENS).where(TOKENS.c.principal_id.in_(ids)))
        conn.execute(delete(PRINCIPALS).where(PRINCIPALS.c.id.in_(ids)))


# Tokens


def test_tokens_are_stored_hashed_and_found_by_id(store: SqlIdentityStore, acct: str) -> None:
    principal = store.create_principal(acct, PrincipalInput(name="alice", roles=("reader",)))
    expires = later(hours=1)
    issued = store.create_token(acct, "alice", description="laptop", expires_on=expires)
    parsed = parse_token(issued.token)
    assert issued.info.token_id == parsed.token_id
    assert (issued.info.account, issued.info.principal_name) == (acct, "alice")
    assert issued.info.description == "laptop"
    assert abs(issued.info.expires_on - expires) < timedelta(milliseconds=1)  # type: ignore[operator]
    assert issued.token not in repr(issued)
    found = store.lookup_token(parsed.token_id)
    assert found is not None
    assert found.secret_sha256 == secret_hash(parsed.secret) != parsed.secret
    assert found.principal == principal
    assert found.info == issued.info
    assert parsed.secret not in repr(found)
    assert store.lookup_token("f" * 16) is None


def test_tokens_must_expire_in_the_future(store: SqlIdentityStore, acct: str) -> None:
    store.create_principal(acct, PrincipalInput(name="alice"))
    with pytest.raises(InvalidInput, match="future"):
        store.create_token(acct, "alice", expires_on=later(seconds=-1))
    with pytest.raises(InvalidInput, match="time zone"):
        store.create_token(acct, "alice", expires_on=datetime(2999, 1, 1))
    assert every(lambda page: store.list_tokens(acct, "alice", page)) == []


def test_tokens_are_listed_oldest_first_in_pages(store: SqlIdentityStore, acct: str) -> None:
    store.create_principal(acct, PrincipalInput(name="alice"))
    store.create_principal(acct, PrincipalInput(name="bob"))
    made = [store.create_token(acct, "alice", description=str(i)).info for i in range(5)]
    store.create_token(acct, "bob")
    listed = every(lambda page: store.list_tokens(acct, "alice", page), max_results=2)
    assert listed == made
    with pytest.raises(EntityNotFound):
        store.list_tokens(acct, "nobody", PageRequest())
    first = store.list_tokens(acct, "alice", PageRequest(max_results=2))
    with pytest.raises(InvalidInput):
        store.list_tokens(acct, "bob", PageRequest(next_token=first.next_token))


def test_revoking_is_scoped_by_account_and_idempotent(store: SqlIdentityStore, acct: str) -> None:
    store.create_principal(acct, PrincipalInput(name="alice"))
    token_id = store.create_token(acct, "alice").info.token_id
    with pytest.raises(EntityNotFound, match=f"Token {token_id} not found"):
        store.revoke_token(new_catalog_id(), token_id)
    found = store.lookup_token(token_id)
    assert found is not None and found.info.revoked_on is None
    revoked = store.revoke_token(acct, token_id.upper())
    assert revoked.revoked_on is not None and revoked.principal_name == "alice"
    again = store.revoke_token(acct, token_id)
    assert again.revoked_on == revoked.revoked_on
    found = store.lookup_token(token_id)
    assert found is not None and not found.info.usable_at(datetime.now(UTC))
    with pytest.raises(EntityNotFound):
        store.revoke_token(acct, "0" * 16)
    with pytest.raises(InvalidInput):
        store.revoke_token(acct, "not-a-token-id")


def test_a_principal_and_its_first_token_are_made_together(
    store: SqlIdentityStore, acct: str
) -> None:
    issued = store.create_principal_with_token(
        acct,
        PrincipalInput(name="admin", roles=("admin",), operator=True),
        token_description="first",
        expires_on=None,
    )
    found = store.lookup_token(issued.info.token_id)
    assert found is not None and found.principal.operator and found.info.expires_on is None
    subject = f"taken-{acct}"
    store.create_principal(acct, PrincipalInput(name="holder", certificate_subject=subject))
    with pytest.raises(AlreadyExists):
        store.create_principal_with_token(
            acct,
            PrincipalInput(name="second", certificate_subject=subject),
            token_description="",
            expires_on=None,
        )
    with pytest.raises(EntityNotFound):
        store.get_principal(acct, "second")


# Run credentials


def test_run_tokens_reuse_the_runs_principal(store: SqlIdentityStore, acct: str) -> None:
    role = "arn:sluice:role/" + "etl" * 300
    first = store.issue_run_token(acct, "jr_abc", role, later(hours=1))
    second = store.issue_run_token(acct, "jr_abc", role, later(hours=2))
    one, two = (
        store.lookup_token(parse_token(first).token_id),
        store.lookup_token(parse_token(second).token_id),
    )
    assert one is not None and two is not None
    assert one.principal.id == two.principal.id
    assert (one.principal.name, one.principal.run_id, one.principal.roles) == (
        "run/jr_abc",
        "jr_abc",
        (role,),
    )
    assert store.get_principal(acct, "run/jr_abc").run_id == "jr_abc"
    assert len(every(lambda page: store.list_tokens(acct, "run/jr_abc", page))) == 2
    with pytest.raises(InvalidInput):
        store.issue_run_token(acct, "jr_abc", "", later(hours=1))
    with pytest.raises(InvalidInput):
        store.issue_run_token(acct, "../x", "etl", later(hours=1))


def test_concurrent_first_run_tokens_share_one_principal(
    store: SqlIdentityStore, acct: str
) -> None:
    made: list[str] = []
    errors: list[BaseException] = []

    def issue() -> None:
        try:
            made.append(store.issue_run_token(acct, "jr_race", "etl", later(hours=1)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=issue) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    principals = {store.lookup_token(parse_token(t).token_id).principal.id for t in made}  # type: ignore[union-attr]
    assert len(made) == 6 and len(principals) == 1


def test_run_principals_are_purged_once_their_tokens_are_spent(
    store: SqlIdentityStore, acct: str
) -> None:
    store.issue_run_token(acct, "jr_old", "etl", later(minutes=10))
    store.issue_run_token(acct, "jr_new", "etl", later(hours=5))
    store.create_principal(acct, PrincipalInput(name="alice"))
    store.create_token(acct, "alice", expires_on=later(minutes=1))
    purged = store.purge_run_principals(later(hours=1))
    assert purged >= 1
    names = [p.name for p in every(lambda page: store.list_principals(acct, page))]
    assert names == ["alice", "run/jr_new"]


# Policies


def test_policies_are_put_read_and_replaced(store: SqlIdentityStore, acct: str) -> None:
    created = store.put_policy(
        acct, PolicyInput(name="Readers", roles=("reader",), statements=(READ,), description="d")
    )
    assert (created.name, created.account, created.roles) == ("readers", acct, ("reader",))
    assert created.statements == (READ,)
    assert store.get_policy(acct, "READERS") == created
    replaced = store.put_policy(
        acct, PolicyInput(name="readers", roles=("analyst",), statements=(READ, NO_DELETE))
    )
    assert replaced.created_on == created.created_on
    assert replaced.last_modified_on >= created.last_modified_on
    assert (replaced.roles, replaced.statements, replaced.description) == (
        ("analyst",),
        (READ, NO_DELETE),
        "",
    )
    assert store.statements_for(acct, ["reader"]) == []
    store.delete_policy(acct, "readers")
    with pytest.raises(EntityNotFound, match="Policy readers not found"):
        store.get_policy(acct, "readers")
    with pytest.raises(EntityNotFound):
        store.delete_policy(acct, "readers")


def test_bad_policies_are_refused(store: SqlIdentityStore, acct: str) -> None:
    bad = [
        PolicyInput(name="p", roles=("r",), statements=()),
        PolicyInput(name="p/x", roles=("r",), statements=(READ,)),
        PolicyInput(name="p", roles=("",), statements=(READ,)),
        PolicyInput(name="p", roles=("r",), statements=(Statement(Effect.ALLOW, ("x",), ("*",)),)),
    ]
    for policy in bad:
        with pytest.raises(InvalidInput):
            store.put_policy(acct, policy)
    assert every(lambda page: store.list_policies(acct, page)) == []


def test_policies_are_listed_by_name_and_by_role(store: SqlIdentityStore, acct: str) -> None:
    long_role = "arn:sluice:role/" + "x" * 2000
    for i in range(5):
        roles = ("reader", long_role) if i % 2 == 0 else ("writer",)
        store.put_policy(acct, PolicyInput(name=f"p{i}", roles=roles, statements=(READ,)))
    store.put_policy(
        new_catalog_id(), PolicyInput(name="p9", roles=("reader",), statements=(READ,))
    )
    listed = every(lambda page: store.list_policies(acct, page), max_results=2)
    assert [p.name for p in listed] == ["p0", "p1", "p2", "p3", "p4"]
    readers = every(lambda page: store.list_policies(acct, page, role="reader"), max_results=2)
    assert [p.name for p in readers] == ["p0", "p2", "p4"]
    long = every(lambda page: store.list_policies(acct, page, role=long_role))
    assert [p.name for p in long] == ["p0", "p2", "p4"]
    first = store.list_policies(acct, PageRequest(max_results=1), role="reader")
    with pytest.raises(InvalidInput):
        store.list_policies(acct, PageRequest(next_token=first.next_token), role="writer")


def test_statements_come_from_the_roles_policies_in_the_account(
    store: SqlIdentityStore, acct: str
) -> None:
    store.put_policy(acct, PolicyInput(name="a", roles=("reader", "etl"), statements=(READ,)))
    store.put_policy(acct, PolicyInput(name="b", roles=("etl",), statements=(NO_DELETE,)))
    store.put_policy(acct, PolicyInput(name="c", roles=("writer",), statements=(NO_DELETE,)))
    store.put_policy(
        new_catalog_id(), PolicyInput(name="a", roles=("reader",), statements=(NO_DELETE,))
    )
    assert store.statements_for(acct, ["reader"]) == [READ]
    # A policy attached to two of the roles counts once.
    assert store.statements_for(acct, ["reader", "etl"]) == [READ, NO_DELETE]
    assert store.statements_for(acct, []) == []
    assert store.statements_for(acct, ["nobody"]) == []


def test_concurrent_puts_of_one_policy_leave_one(store: SqlIdentityStore, acct: str) -> None:
    errors: list[BaseException] = []

    def put(i: int) -> None:
        try:
            store.put_policy(acct, PolicyInput(name="shared", roles=(f"r{i}",), statements=(READ,)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    (policy,) = every(lambda page: store.list_policies(acct, page))
    assert len(policy.roles) == 1
    assert store.statements_for(acct, list(policy.roles)) == [READ]
    others = [f"r{i}" for i in range(6) if f"r{i}" not in policy.roles]
    assert store.statements_for(acct, others) == []


# Change notifications


def test_listeners_hear_of_committed_changes_only(store: SqlIdentityStore, acct: str) -> None:
    heard: list[None] = []
    store.subscribe(lambda: heard.append(None))
    store.create_principal(acct, PrincipalInput(name="alice"))
    token_id = store.create_token(acct, "alice").info.token_id
    store.revoke_token(acct, token_id)
    store.put_policy(acct, PolicyInput(name="p", roles=("r",), statements=(READ,)))
    assert len(heard) == 4
    with pytest.raises(AlreadyExists):
        store.create_principal(acct, PrincipalInput(name="alice"))
    store.get_principal(acct, "alice")
    store.list_tokens(acct, "alice", PageRequest())
    assert len(heard) == 4
    store.delete_principal(acct, "alice")
    store.delete_policy(acct, "p")
    assert len(heard) == 6
