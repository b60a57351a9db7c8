"""Secret connection properties at rest: encrypted in the database, clear through the store.

Each test uses its own password, so a scan of the whole database (and on SQLite its files)
finds it only if this test's store left it there in clear.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text, update

from sluice.catalog.core.model import ConnectionInput, GetConnectionsFilter
from sluice.catalog.core.store.rows import SqlConnection
from sluice.catalog.core.store.sql import SqlCatalogStore
from sluice.common.paging import PageRequest, PageTokenCodec
from sluice.common.secrets import ENCRYPTED_PREFIX, SecretBox, SecretDecryptError
from tests.contract.conftest import TOKEN_KEY, Backend

pytestmark = pytest.mark.contract


def _box(*keys: bytes) -> SecretBox:
    return SecretBox(list(keys) or [Fernet.generate_key()])


def _store(backend: Backend, box: SecretBox | None) -> SqlCatalogStore:
    return SqlCatalogStore(backend.db, PageTokenCodec(TOKEN_KEY), secrets=box)


def _password() -> str:
    return f"pw-{uuid.uuid4().hex}"


def _connection(password: str, name: str = "warehouse") -> ConnectionInput:
    return ConnectionInput(
        name=name,
        connection_type="JDBC",
        connection_properties={
            "JDBC_CONNECTION_URL": "jdbc:postgresql://db:5432/dw",
            "USERNAME": "etl",
            "PASSWORD": password,
            "ENCRYPTED_PASSWORD": password + "-e",
            "client_secret": password + "-c",
        },
    )


def _raw_properties(backend: Backend, catalog_id: str, name: str) -> dict[str, str]:
    with backend.db.read() as conn:
        row = conn.execute(
            text(
                "SELECT connection_properties FROM connections "
                "WHERE catalog_id = :catalog_id AND name = :name"
            ),
            {"catalog_id": catalog_id, "name": name},
        ).one()
    value = row[0]
    if isinstance(value, str):  # SQLite hands JSON back as text
        value = json.loads(value)
    assert isinstance(value, dict)
    return value


def _raw_rows_text(backend: Backend, catalog_id: str) -> str:
    with backend.db.read() as conn:
        rows = conn.execute(
            text("SELECT * FROM connections WHERE catalog_id = :catalog_id"),
            {"catalog_id": catalog_id},
        ).all()
    assert rows
    return repr(rows)


def _sqlite_files_bytes(backend: Backend) -> bytes:
    database = backend.db.engine.url.database
    assert database
    return b"".join(path.read_bytes() for path in Path(database).parent.iterdir() if path.is_file())


def test_secret_properties_are_encrypted_in_the_row_and_round_trip(
    backend: Backend, cat: str
) -> None:
    password = _password()
    store = _store(backend, _box())
    created = store.create_connection(cat, _connection(password))
    assert created.connection_properties["PASSWORD"] == password

    raw = _raw_properties(backend, cat, "warehouse")
    for key in ("PASSWORD", "ENCRYPTED_PASSWORD", "client_secret"):
        assert raw[key].startswith(ENCRYPTED_PREFIX)
    assert raw["USERNAME"] == "etl"
    assert raw["JDBC_CONNECTION_URL"] == "jdbc:postgresql://db:5432/dw"
    assert password not in _raw_rows_text(backend, cat)
    if backend.name == "sqlite":
        assert password.encode() not in _sqlite_files_bytes(backend)

    fetched = store.get_connection(cat, "warehouse")
    assert fetched == created
    listed = store.get_connections(cat, GetConnectionsFilter(), PageRequest())
    assert listed.items == (created,)


def test_update_encrypts_anew(backend: Backend, cat: str) -> None:
    store = _store(backend, _box())
    store.create_connection(cat, _connection(_password()))
    first = _raw_properties(backend, cat, "warehouse")["PASSWORD"]
    password = _password()
    updated = store.update_connection(cat, "warehouse", _connection(password))
    assert updated.connection_properties["PASSWORD"] == password
    second = _raw_properties(backend, cat, "warehouse")["PASSWORD"]
    assert second.startswith(ENCRYPTED_PREFIX)
    assert second != first
    assert password not in _raw_rows_text(backend, cat)
    assert store.get_connection(cat, "warehouse").connection_properties["PASSWORD"] == password


def test_a_store_without_a_codec_stores_as_given(backend: Backend, cat: str) -> None:
    password = _password()
    plain = _store(backend, None)
    created = plain.create_connection(cat, _connection(password))
    assert _raw_properties(backend, cat, "warehouse")["PASSWORD"] == password
    assert password in _raw_rows_text(backend, cat)
    if backend.name == "sqlite":
        # The file scan the encrypted case relies on does see a plaintext password.
        assert password.encode() in _sqlite_files_bytes(backend)
    assert plain.get_connection(cat, "warehouse") == created


def test_plaintext_from_before_is_read_and_encrypted_on_the_next_write(
    backend: Backend, cat: str
) -> None:
    password = _password()
    _store(backend, None).create_connection(cat, _connection(password))
    encrypting = _store(backend, _box())
    assert encrypting.get_connection(cat, "warehouse").connection_properties["PASSWORD"] == (
        password
    )
    encrypting.update_connection(cat, "warehouse", _connection(password))
    assert _raw_properties(backend, cat, "warehouse")["PASSWORD"].startswith(ENCRYPTED_PREFIX)
    assert password not in _raw_rows_text(backend, cat)
    assert encrypting.get_connection(cat, "warehouse").connection_properties["PASSWORD"] == (
        password
    )


def test_a_store_without_the_codec_never_sees_the_plaintext(backend: Backend, cat: str) -> None:
    password = _password()
    _store(backend, _box()).create_connection(cat, _connection(password))
    seen = _store(backend, None).get_connection(cat, "warehouse").connection_properties
    assert seen["PASSWORD"].startswith(ENCRYPTED_PREFIX)
    assert password not in repr(seen)


def test_non_secret_values_that_look_encrypted_are_kept_as_written(
    backend: Backend, cat: str
) -> None:
    store = _store(backend, _box())
    looks_encrypted = ENCRYPTED_PREFIX + "not really"
    value = ConnectionInput(
        name="odd",
        connection_type="JDBC",
        connection_properties={"USERNAME": looks_encrypted, "PASSWORD": looks_encrypted},
    )
    store.create_connection(cat, value)
    assert store.get_connection(cat, "odd").connection_properties == {
        "USERNAME": looks_encrypted,
        "PASSWORD": looks_encrypted,
    }


def test_key_rotation(backend: Backend, cat: str) -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    password = _password()
    _store(backend, _box(old)).create_connection(cat, _connection(password))
    rotated = _store(backend, _box(new, old))
    assert rotated.get_connection(cat, "warehouse").connection_properties["PASSWORD"] == password
    rotated.update_connection(cat, "warehouse", _connection(password))
    # After the rewrite the retired key is no longer needed.
    only_new = _store(backend, _box(new))
    assert only_new.get_connection(cat, "warehouse").connection_properties["PASSWORD"] == password


def test_wrong_key_is_a_clear_error(backend: Backend, cat: str) -> None:
    password = _password()
    _store(backend, _box()).create_connection(cat, _connection(password))
    with pytest.raises(SecretDecryptError, match="cannot be decrypted") as caught:
        _store(backend, _box()).get_connection(cat, "warehouse")
    assert password not in str(caught.value)
    with pytest.raises(SecretDecryptError):
        _store(backend, _box()).get_connections(cat, GetConnectionsFilter(), PageRequest())


def test_tampered_row_is_a_clear_error(backend: Backend, cat: str) -> None:
    password = _password()
    store = _store(backend, _box())
    store.create_connection(cat, _connection(password))
    properties = _raw_properties(backend, cat, "warehouse")
    ciphertext = properties["PASSWORD"]
    flipped = "A" if ciphertext[-5] != "A" else "B"
    properties["PASSWORD"] = ciphertext[:-5] + flipped + ciphertext[-4:]
    table = SqlConnection.__table__
    with backend.db.write() as conn:
        conn.execute(
            update(table)
            .where(table.c.catalog_id == cat, table.c.name == "warehouse")
            .values(connection_properties=properties)
        )
    with pytest.raises(SecretDecryptError, match="altered") as caught:
        store.get_connection(cat, "warehouse")
    assert password not in str(caught.value)
