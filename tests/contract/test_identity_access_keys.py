"""Access keys in the identity store, on SQLite and PostgreSQL: secrets encrypted at rest,
found by id from any account, listed in pages, deleted with their principal."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import select

from sluice.common.errors import AlreadyExists, EntityNotFound, FailedPrecondition, InvalidInput
from sluice.common.paging import PageRequest, PageTokenCodec
from sluice.common.secrets import SecretBox
from sluice.control_plane.security.access_keys import given_access_key
from sluice.control_plane.security.model import PrincipalInput
from sluice.control_plane.security.rows import ACCESS_KEYS
from sluice.control_plane.security.schema import upgrade_schema
from sluice.control_plane.security.sql_identity import SqlIdentityStore
from tests.contract.conftest import TOKEN_KEY, Backend, new_catalog_id

pytestmark = pytest.mark.contract

BOX = SecretBox([base64.urlsafe_b64encode(b"k" * 32)])


@pytest.fixture(scope="session")
def identity_backend(backend: Backend) -> Backend:
    upgrade_schema(backend.db)
    return backend


@pytest.fixture
def store(identity_backend: Backend) -> SqlIdentityStore:
    return SqlIdentityStore(identity_backend.db, PageTokenCodec(TOKEN_KEY), secrets=BOX)


@pytest.fixture
def acct() -> str:
    return new_catalog_id()


def test_keys_are_made_encrypted_and_found_by_id(
    store: SqlIdentityStore, identity_backend: Backend, acct: str
) -> None:
    store.create_principal(acct, PrincipalInput(name="alice", roles=("etl",)))
    issued = store.create_access_key(acct, "Alice", description="terraform")
    key_id = issued.info.access_key_id
    assert key_id.startswith("AKIA") and len(key_id) == 20
    assert len(issued.secret_access_key) == 40
    assert (issued.info.principal_name, issued.info.description) == ("alice", "terraform")
    with identity_backend.db.read() as conn:
        stored = conn.execute(
            select(ACCESS_KEYS.c.secret_encrypted).where(ACCESS_KEYS.c.access_key_id == key_id)
        ).scalar_one()
    assert issued.secret_access_key not in stored
    found = store.lookup_access_key(key_id)
    assert found is not None
    secret, principal = found
    assert secret == issued.secret_access_key
    assert (principal.account, principal.name, principal.roles) == (acct, "alice", ("etl",))
    assert store.lookup_access_key("AKIA" + "0" * 16) is None


def test_existing_pairs_are_registered_once(store: SqlIdentityStore, acct: str) -> None:
    store.create_principal(acct, PrincipalInput(name="ci"))
    pair = given_access_key("AKIAEXAMPLE" + "1" * 9, "s" * 40)
    store.create_access_key(acct, "ci", key=pair)
    assert store.lookup_access_key(pair.access_key_id)[0] == "s" * 40  # type: ignore[index]
    with pytest.raises(AlreadyExists):
        store.create_access_key(acct, "ci", key=pair)
    with pytest.raises(InvalidInput):
        given_access_key("not a key", "s" * 40)
    with pytest.raises(InvalidInput):
        given_access_key("AKIA" + "2" * 16, "short")


def test_keys_are_listed_in_pages_and_deleted_per_account(
    store: SqlIdentityStore, acct: str
) -> None:
    store.create_principal(acct, PrincipalInput(name="bob"))
    made = [store.create_access_key(acct, "bob").info.access_key_id for _ in range(3)]
    first = store.list_access_keys(acct, "bob", PageRequest(max_results=2))
    rest = store.list_access_keys(acct, "bob", PageRequest(next_token=first.next_token))
    assert [k.access_key_id for k in (*first.items, *rest.items)] == made
    with pytest.raises(EntityNotFound):
        store.delete_access_key(new_catalog_id(), made[0])
    store.delete_access_key(acct, made[0])
    assert store.lookup_access_key(made[0]) is None
    with pytest.raises(EntityNotFound):
        store.delete_access_key(acct, made[0])


def test_deleting_a_principal_deletes_its_keys(store: SqlIdentityStore, acct: str) -> None:
    store.create_principal(acct, PrincipalInput(name="carol"))
    key_id = store.create_access_key(acct, "carol").info.access_key_id
    store.delete_principal(acct, "carol")
    assert store.lookup_access_key(key_id) is None


def test_without_a_secret_key_no_access_keys(identity_backend: Backend, acct: str) -> None:
    plain = SqlIdentityStore(identity_backend.db, PageTokenCodec(TOKEN_KEY))
    plain.create_principal(acct, PrincipalInput(name="dave"))
    with pytest.raises(FailedPrecondition):
        plain.create_access_key(acct, "dave")
