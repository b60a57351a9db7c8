"""User-defined functions: CRUD, patterns, listing across a catalog's databases."""

from __future__ import annotations

import pytest

from sluice.catalog.core.model import (
    PrincipalType,
    ResourceType,
    ResourceUri,
    UserDefinedFunctionInput,
)
from sluice.catalog.core.store.sql import SqlCatalogStore
from sluice.common.errors import AlreadyExists, EntityNotFound, InvalidInput
from sluice.common.paging import PageRequest
from tests.contract.conftest import Catalog, new_catalog_id

pytestmark = pytest.mark.contract

UPPER = UserDefinedFunctionInput(
    function_name="To_Upper",
    class_name="com.example.udf.ToUpper",
    owner_name="alice",
    owner_type=PrincipalType.ROLE,
    resource_uris=(
        ResourceUri(ResourceType.JAR, "s3://bucket/udfs.jar"),
        ResourceUri(ResourceType.FILE, "s3://bucket/dict.txt"),
    ),
)


def _udf(name: str) -> UserDefinedFunctionInput:
    return UserDefinedFunctionInput(function_name=name, class_name=f"udf.{name}")


def test_create_and_get_function_round_trip(store: SqlCatalogStore, catalog: Catalog) -> None:
    catalog.database()
    created = store.create_user_defined_function(catalog.id, "Sales", UPPER)
    fetched = store.get_user_defined_function(catalog.id, "sales", "TO_UPPER")
    assert fetched == created
    assert fetched.function_name == "to_upper"
    assert fetched.database_name == "sales"
    assert fetched.catalog_id == catalog.id
    assert fetched.owner_type is PrincipalType.ROLE
    assert fetched.resource_uris == UPPER.resource_uris
    assert fetched.create_time.tzinfo is not None


def test_function_errors(store: SqlCatalogStore, catalog: Catalog) -> None:
    with pytest.raises(EntityNotFound, match="Database sales not found"):
        store.create_user_defined_function(catalog.id, "sales", UPPER)
    catalog.database()
    with pytest.raises(EntityNotFound, match=r"Function sales\.to_upper not found"):
        store.get_user_defined_function(catalog.id, "sales", "to_upper")
    store.create_user_defined_function(catalog.id, "sales", UPPER)
    with pytest.raises(AlreadyExists):
        store.create_user_defined_function(catalog.id, "sales", _udf("TO_UPPER"))


@pytest.mark.parametrize(
    "function_input",
    [
        UserDefinedFunctionInput(function_name="f", class_name=""),
        UserDefinedFunctionInput(function_name="bad name", class_name="F"),
        UserDefinedFunctionInput(function_name="f", class_name="F" * 256),
        UserDefinedFunctionInput(
            function_name="f", class_name="F", resource_uris=(ResourceUri(ResourceType.JAR, ""),)
        ),
    ],
)
def test_create_function_rejects_invalid_input(
    store: SqlCatalogStore, catalog: Catalog, function_input: UserDefinedFunctionInput
) -> None:
    catalog.database()
    with pytest.raises(InvalidInput):
        store.create_user_defined_function(catalog.id, "sales", function_input)


def test_update_function(store: SqlCatalogStore, catalog: Catalog) -> None:
    catalog.database()
    created = store.create_user_defined_function(catalog.id, "sales", UPPER)
    updated = store.update_user_defined_function(
        catalog.id, "sales", "to_upper", UserDefinedFunctionInput("to_upper", "udf.Upper2")
    )
    assert updated == store.get_user_defined_function(catalog.id, "sales", "to_upper")
    assert updated.class_name == "udf.Upper2"
    assert updated.resource_uris == ()
    assert updated.owner_type is PrincipalType.USER
    assert updated.create_time == created.create_time
    with pytest.raises(InvalidInput):
        store.update_user_defined_function(catalog.id, "sales", "to_upper", _udf("other"))
    with pytest.raises(EntityNotFound):
        store.update_user_defined_function(catalog.id, "sales", "nope", _udf("nope"))


def test_delete_function(store: SqlCatalogStore, catalog: Catalog) -> None:
    catalog.database()
    store.create_user_defined_function(catalog.id, "sales", UPPER)
    store.delete_user_defined_function(catalog.id, "sales", "To_Upper")
    with pytest.raises(EntityNotFound):
        store.delete_user_defined_function(catalog.id, "sales", "to_upper")


@pytest.mark.parametrize(
    ("database", "pattern", "expected"),
    [
        ("", "", [("a", "f_1"), ("a", "g"), ("b", "f_1"), ("b", "fx1")]),
        ("B", "", [("b", "f_1"), ("b", "fx1")]),
        ("", "F*", [("a", "f_1"), ("b", "f_1"), ("b", "fx1")]),
        ("", "f_1", [("a", "f_1"), ("b", "f_1")]),
        ("a", "g|fx1", [("a", "g")]),
    ],
)
def test_get_functions(
    store: SqlCatalogStore,
    catalog: Catalog,
    database: str,
    pattern: str,
    expected: list[tuple[str, str]],
) -> None:
    catalog.database("a")
    catalog.database("b")
    catalog.database("empty")
    for db, name in [("a", "f_1"), ("a", "g"), ("b", "f_1"), ("b", "fx1")]:
        store.create_user_defined_function(catalog.id, db, _udf(name))
    other = Catalog(store, new_catalog_id())
    other.database("a")
    store.create_user_defined_function(other.id, "a", _udf("f_1"))

    found = catalog.all(
        lambda p: store.get_user_defined_functions(catalog.id, database, pattern, p), 1
    )
    assert [(f.database_name, f.function_name) for f in found] == expected
    assert all(f.catalog_id == catalog.id for f in found)


def test_get_functions_of_missing_database(store: SqlCatalogStore, cat: str) -> None:
    with pytest.raises(EntityNotFound, match="Database sales not found"):
        store.get_user_defined_functions(cat, "sales", "", PageRequest())
