"""Partitions: CRUD, value checks, expressions, batches and their limits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event

from sluice.catalog.core.model import (
    BatchUpdatePartitionEntry,
    Column,
    Partition,
    PartitionInput,
    StorageDescriptor,
)
from sluice.catalog.core.store.sql import SqlCatalogStore
from sluice.common.errors import AlreadyExists, ConcurrentModification, EntityNotFound, InvalidInput
from sluice.common.paging import PageRequest
from tests.contract.conftest import Backend, Catalog, statements_run

pytestmark = pytest.mark.contract

KEYS = (("region", "string"), ("year", "int"), ("dt", "date"))


@pytest.fixture
def events(catalog: Catalog) -> Catalog:
    """A table partitioned by (region string, year int, dt date)."""
    catalog.database()
    catalog.table("sales", "events", keys=KEYS)
    return catalog


def _values(partitions: list[Partition] | tuple[Partition, ...]) -> set[tuple[str, ...]]:
    return {p.values for p in partitions}


def _all(store: SqlCatalogStore, catalog: Catalog, expression: str = "") -> set[tuple[str, ...]]:
    found = catalog.all(
        lambda p: store.get_partitions(catalog.id, "sales", "events", expression, p), 1000
    )
    return _values(found)


def _load(store: SqlCatalogStore, catalog: Catalog, values: list[tuple[str, ...]]) -> None:
    inputs = [PartitionInput(values=v) for v in values]
    assert store.batch_create_partition(catalog.id, "sales", "events", inputs) == []


GRID = [
    (region, str(year), f"2024-01-{day:02d}")
    for region in ("eu", "us", "ap")
    for year in (9, 10, 100, 2024)
    for day in (1, 2, 3, 10)
]


def test_create_and_get_partition_round_trip(store: SqlCatalogStore, events: Catalog) -> None:
    created = store.create_partition(
        events.id,
        "SALES",
        "Events",
        PartitionInput(
            values=("eu", "2024", "2024-01-31"),
            last_access_time=datetime(2024, 2, 1, 1, 2, 3, 456789, tzinfo=UTC),
            storage_descriptor=StorageDescriptor(
                columns=(Column("ID", "bigint"),), location="s3://b/eu/2024/2024-01-31"
            ),
            parameters={"rows": "42"},
        ),
    )
    fetched = store.get_partition(events.id, "sales", "events", ["eu", "2024", "2024-01-31"])
    assert fetched == created
    assert fetched.database_name == "sales"
    assert fetched.table_name == "events"
    assert fetched.catalog_id == events.id
    assert fetched.creation_time.tzinfo is not None
    assert fetched.last_access_time == datetime(2024, 2, 1, 1, 2, 3, 456789, tzinfo=UTC)
    assert fetched.storage_descriptor is not None
    assert fetched.storage_descriptor.columns == (Column("id", "bigint"),)


@pytest.mark.parametrize(
    ("values", "lookup_error"),
    [
        (("eu", "2024"), InvalidInput),
        (("eu", "2024", "2024-01-01", "extra"), InvalidInput),
        (("e\nu", "2024", "2024-01-01"), InvalidInput),
        (("é" * 1025, "2024", "2024-01-01"), InvalidInput),
        # Values of the wrong type cannot be created, and looking them up finds nothing.
        (("eu", "twenty", "2024-01-01"), EntityNotFound),
        (("eu", "1.5", "2024-01-01"), EntityNotFound),
        (("eu", "99999999999999999999", "2024-01-01"), EntityNotFound),
        (("eu", "2024", "2024-13-01"), EntityNotFound),
        (("eu", "2024", "01/02/2024"), EntityNotFound),
    ],
)
def test_partition_values_must_fit_the_keys(
    store: SqlCatalogStore, events: Catalog, values: tuple[str, ...], lookup_error: type
) -> None:
    with pytest.raises(InvalidInput):
        store.create_partition(events.id, "sales", "events", PartitionInput(values=values))
    with pytest.raises(lookup_error):
        store.get_partition(events.id, "sales", "events", values)
    assert _all(store, events) == set()


def test_long_values_up_to_the_index_limit(store: SqlCatalogStore, catalog: Catalog) -> None:
    catalog.database()
    catalog.table("sales", "wide", keys=(("a", "string"), ("b", "string"), ("c", "string")))
    fits = ("a" * 1024, "b" * 1024)
    catalog.table("sales", "pair", keys=(("a", "string"), ("b", "string")))
    store.create_partition(catalog.id, "sales", "pair", PartitionInput(fits))
    assert store.get_partition(catalog.id, "sales", "pair", fits).values == fits
    with pytest.raises(InvalidInput, match="bytes"):
        store.create_partition(
            catalog.id, "sales", "wide", PartitionInput(("a" * 1000, "b" * 1000, "c" * 100))
        )


def test_duplicate_partition_is_already_exists(store: SqlCatalogStore, events: Catalog) -> None:
    store.create_partition(events.id, "sales", "events", PartitionInput(("eu", "7", "2024-01-01")))
    with pytest.raises(AlreadyExists):
        store.create_partition(
            events.id, "sales", "events", PartitionInput(("eu", "7", "2024-01-01"))
        )
    # As in Glue, an integer written differently is another partition, kept as written.
    store.create_partition(
        events.id, "sales", "events", PartitionInput(("eu", "007", "2024-01-01"))
    )
    assert store.get_partition(
        events.id, "sales", "events", ("eu", "007", "2024-01-01")
    ).values == (
        "eu",
        "007",
        "2024-01-01",
    )
    with pytest.raises(EntityNotFound):
        store.get_partition(events.id, "sales", "events", ("eu", "+7", "2024-01-01"))
    # Both compare as the number 7.
    assert _all(store, events, "year = 7") == {
        ("eu", "7", "2024-01-01"),
        ("eu", "007", "2024-01-01"),
    }


def test_partition_calls_name_what_is_missing(store: SqlCatalogStore, catalog: Catalog) -> None:
    values = ("eu", "1", "2024-01-01")
    with pytest.raises(EntityNotFound, match="Database sales not found"):
        store.get_partition(catalog.id, "sales", "events", values)
    catalog.database()
    with pytest.raises(EntityNotFound, match=r"Table sales\.events not found"):
        store.get_partitions(catalog.id, "sales", "events", "", PageRequest())
    catalog.table("sales", "events", keys=KEYS)
    with pytest.raises(EntityNotFound, match="Partition"):
        store.get_partition(catalog.id, "sales", "events", values)
    with pytest.raises(EntityNotFound):
        store.delete_partition(catalog.id, "sales", "events", values)
    with pytest.raises(EntityNotFound):
        store.update_partition(catalog.id, "sales", "events", values, PartitionInput(values))


def test_table_without_partition_keys_has_no_partitions(
    store: SqlCatalogStore, catalog: Catalog
) -> None:
    catalog.database()
    catalog.table("sales", "flat")
    with pytest.raises(InvalidInput, match="no partition keys"):
        store.create_partition(catalog.id, "sales", "flat", PartitionInput(values=()))


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("", lambda r, y, d: True),
        ("year = 10", lambda r, y, d: y == 10),
        ("year > 9", lambda r, y, d: y > 9),
        ("year >= 10 AND year < 2024", lambda r, y, d: 10 <= y < 2024),
        ("region = 'eu' AND year <> 100", lambda r, y, d: r == "eu" and y != 100),
        ("region IN ('us', 'ap') OR dt = '2024-01-10'", lambda r, y, d: r != "eu" or d == 10),
        ("dt BETWEEN '2024-01-02' AND '2024-01-03'", lambda r, y, d: 2 <= d <= 3),
        ("dt > '2024-01-03'", lambda r, y, d: d > 3),
        ("NOT (region = 'eu') AND year IN (9, 2024)", lambda r, y, d: r != "eu" and y in (9, 2024)),
        ("region LIKE 'e%'", lambda r, y, d: r == "eu"),
    ],
)
def test_get_partitions_expression(
    store: SqlCatalogStore, events: Catalog, expression: str, expected: object
) -> None:
    _load(store, events, GRID)
    want = {
        v
        for v in GRID
        if expected(v[0], int(v[1]), int(v[2][-2:]))  # type: ignore[operator]
    }
    assert _all(store, events, expression) == want


@pytest.mark.parametrize(
    "expression",
    ["year = ", "year = 'abc'", "nokey = 1", "dt = '2024-02-30'", "region LIKE", "(year = 1"],
)
def test_get_partitions_rejects_bad_expressions(
    store: SqlCatalogStore, events: Catalog, expression: str
) -> None:
    with pytest.raises(InvalidInput):
        store.get_partitions(events.id, "sales", "events", expression, PageRequest())


def test_update_partition_can_change_values_and_keeps_creation_time(
    store: SqlCatalogStore, events: Catalog
) -> None:
    old = ("eu", "1", "2024-01-01")
    created = store.create_partition(events.id, "sales", "events", PartitionInput(old))
    updated = store.update_partition(
        events.id,
        "sales",
        "events",
        old,
        PartitionInput(("eu", "2", "2024-01-01"), parameters={"moved": "yes"}),
    )
    assert updated.values == ("eu", "2", "2024-01-01")
    assert updated.parameters == {"moved": "yes"}
    assert updated.creation_time == created.creation_time
    assert _all(store, events) == {("eu", "2", "2024-01-01")}
    assert _all(store, events, "year = 2") == {("eu", "2", "2024-01-01")}
    store.create_partition(events.id, "sales", "events", PartitionInput(old))
    with pytest.raises(AlreadyExists):
        store.update_partition(
            events.id, "sales", "events", ("eu", "2", "2024-01-01"), PartitionInput(old)
        )


def test_delete_partition(store: SqlCatalogStore, events: Catalog) -> None:
    _load(store, events, GRID[:3])
    store.delete_partition(events.id, "sales", "events", GRID[1])
    assert _all(store, events) == {GRID[0], GRID[2]}


def test_batch_create_reports_each_failure_and_applies_the_rest(
    store: SqlCatalogStore, events: Catalog
) -> None:
    _load(store, events, [("eu", "1", "2024-01-01")])
    errors = store.batch_create_partition(
        events.id,
        "sales",
        "events",
        [
            PartitionInput(("eu", "2", "2024-01-01")),
            PartitionInput(("eu", "1", "2024-01-01")),  # exists
            PartitionInput(("eu", "x", "2024-01-01")),  # not an int
            PartitionInput(("eu", "3", "2024-01-01")),
            PartitionInput(("eu", "3", "2024-01-01")),  # twice in the batch
            PartitionInput(("eu", "4")),  # too few values
            PartitionInput(("eu", "5", "2024-01-01"), parameters={"": "empty key"}),
        ],
    )
    assert [(e.partition_values, e.error_detail.error_code) for e in errors] == [
        (("eu", "1", "2024-01-01"), "AlreadyExistsException"),
        (("eu", "x", "2024-01-01"), "InvalidInputException"),
        (("eu", "3", "2024-01-01"), "AlreadyExistsException"),
        (("eu", "4"), "InvalidInputException"),
        (("eu", "5", "2024-01-01"), "InvalidInputException"),
    ]
    assert all(e.error_detail.error_message for e in errors)
    assert _all(store, events) == {(("eu", y, "2024-01-01")) for y in ("1", "2", "3")}


def test_batch_get_returns_the_partitions_that_exist(
    store: SqlCatalogStore, events: Catalog
) -> None:
    _load(store, events, GRID[:4])
    result = store.batch_get_partition(
        events.id, "sales", "events", [GRID[2], ("zz", "1", "2024-01-01"), GRID[0], GRID[2]]
    )
    assert [p.values for p in result.partitions] == [GRID[2], GRID[0]]
    assert result.unprocessed_keys == ()
    assert store.batch_get_partition(events.id, "sales", "events", []).partitions == ()


def test_batch_delete_reports_each_failure(store: SqlCatalogStore, events: Catalog) -> None:
    _load(store, events, GRID[:4])
    errors = store.batch_delete_partition(
        events.id,
        "sales",
        "events",
        [GRID[0], ("zz", "1", "2024-01-01"), ("eu", "x", "2024-01-01"), GRID[2]],
    )
    assert [(e.partition_values, e.error_detail.error_code) for e in errors] == [
        (("zz", "1", "2024-01-01"), "EntityNotFoundException"),
        (("eu", "x", "2024-01-01"), "EntityNotFoundException"),
    ]
    assert _all(store, events) == {GRID[1], GRID[3]}


def test_batch_update_reports_each_failure_and_applies_the_rest(
    store: SqlCatalogStore, events: Catalog
) -> None:
    _load(store, events, GRID[:4])
    moved = ("new", "1", "2024-01-01")
    missing = ("zz", "1", "2024-01-01")
    failures = store.batch_update_partition(
        events.id,
        "sales",
        "events",
        [
            BatchUpdatePartitionEntry(GRID[0], PartitionInput(GRID[0], parameters={"a": "1"})),
            BatchUpdatePartitionEntry(GRID[1], PartitionInput(moved)),
            BatchUpdatePartitionEntry(missing, PartitionInput(("zz", "2", "2024-01-01"))),
            BatchUpdatePartitionEntry(GRID[2], PartitionInput(GRID[3])),  # onto an existing one
            BatchUpdatePartitionEntry(GRID[3], PartitionInput(("eu", "bad", "2024-01-01"))),
        ],
    )
    assert [(values, e.error_detail.error_code) for values, e in failures] == [
        (missing, "EntityNotFoundException"),
        (GRID[2], "AlreadyExistsException"),
        (GRID[3], "InvalidInputException"),
    ]
    assert _all(store, events) == {GRID[0], moved, GRID[2], GRID[3]}
    assert store.get_partition(events.id, "sales", "events", GRID[0]).parameters == {"a": "1"}


# Glue's documented limits: BatchCreatePartition and BatchUpdatePartition take 100 partitions,
# BatchDeletePartition 25, BatchGetPartition 1000.
@pytest.mark.parametrize(
    ("call", "limit"), [("create", 100), ("get", 1000), ("update", 100), ("delete", 25)]
)
def test_batch_limit_leaves_the_catalog_unchanged(
    store: SqlCatalogStore, events: Catalog, call: str, limit: int
) -> None:
    values = [("eu", str(i), "2024-01-01") for i in range(limit + 1)]
    _load(store, events, values[:10])
    before = _all(store, events)
    with pytest.raises(InvalidInput, match=f"at most {limit} partitions, got {limit + 1}"):
        if call == "create":
            store.batch_create_partition(
                events.id, "sales", "events", [PartitionInput(v) for v in values]
            )
        elif call == "get":
            store.batch_get_partition(events.id, "sales", "events", values)
        elif call == "update":
            entries = [BatchUpdatePartitionEntry(v, PartitionInput(v)) for v in values]
            store.batch_update_partition(events.id, "sales", "events", entries)
        else:
            store.batch_delete_partition(events.id, "sales", "events", values)
    assert _all(store, events) == before


def test_ten_thousand_partitions_load_in_batches_of_a_hundred(
    store: SqlCatalogStore, events: Catalog
) -> None:
    values = [
        ("eu", str(year), f"2024-01-{day:02d}") for year in range(400) for day in range(1, 26)
    ]
    for i in range(0, len(values), 100):
        batch = [PartitionInput(v) for v in values[i : i + 100]]
        assert store.batch_create_partition(events.id, "sales", "events", batch) == []
    assert _all(store, events) == set(values)
    assert _all(store, events, "year = 123 AND dt >= '2024-01-20'") == {
        ("eu", "123", f"2024-01-{day}") for day in range(20, 26)
    }


# EXPLAIN QUERY PLAN is SQLite's; PostgreSQL picks plans by statistics, not by rule.
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("expression", "index"),
    [
        ("region = 'eu' AND year = 2024 AND dt > '2024-01-02'", "ix_partitions_slots"),
        ("region = 'eu' AND year BETWEEN 10 AND 100", "ix_partitions_slots"),
        ("year = 10", "ix_partitions_k1"),
        ("dt = '2024-01-03'", "ix_partitions_k2"),
    ],
)
def test_selective_get_partitions_searches_an_index(
    store: SqlCatalogStore, events: Catalog, backend: Backend, expression: str, index: str
) -> None:
    _load(store, events, GRID)
    _assert_searches_index(store, backend, events.id, "events", expression, index)


def _assert_searches_index(
    store: SqlCatalogStore,
    backend: Backend,
    catalog_id: str,
    table: str,
    expression: str,
    index: str,
) -> None:
    """GetPartitions finds something with one query that SQLite runs as a search of `index`."""
    with statements_run(backend.db, "FROM partitions") as statements:
        found = store.get_partitions(catalog_id, "sales", table, expression, PageRequest())
    assert found.items
    [(statement, parameters)] = statements
    with backend.db.engine.connect() as conn:
        plan = [
            row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        ]
    assert any(f"SEARCH partitions USING INDEX {index}" in line for line in plan), plan
    assert not any(line.startswith("SCAN partitions") for line in plan), plan


# --- Values as Glue stores them, compared by the key's type ---------------------------------

TYPED_KEYS = (
    ("price", "decimal(10,2)"),
    ("ratio", "double"),
    ("at", "timestamp"),
    ("tiny", "tinyint"),
    ("small", "smallint"),
)


@pytest.fixture
def typed(catalog: Catalog) -> Catalog:
    """A table partitioned by decimal, double, timestamp, tinyint and smallint keys."""
    catalog.database()
    catalog.table("sales", "typed", keys=TYPED_KEYS)
    return catalog


def _typed(store: SqlCatalogStore, catalog: Catalog, expression: str = "") -> set[tuple[str, ...]]:
    found = catalog.all(
        lambda p: store.get_partitions(catalog.id, "sales", "typed", expression, p), 1000
    )
    return _values(found)


def _row(
    price: str, ratio: str = "1.0", at: str = "2024-01-01 00:00:00", tiny: str = "1"
) -> tuple[str, ...]:
    return (price, ratio, at, tiny, "1")


def test_decimal_double_and_timestamp_keys_compare_by_value(
    store: SqlCatalogStore, typed: Catalog
) -> None:
    rows = [
        _row("9.5", "2.5", "2024-01-01 09:00:00"),
        _row("10.25", "10.0", "2024-01-01 10:00:00.5"),
        _row("100", "1e2", "2024-01-02"),
        _row("-3", "-Infinity", "2023-12-31 23:59:59"),
    ]
    assert (
        store.batch_create_partition(typed.id, "sales", "typed", [PartitionInput(v) for v in rows])
        == []
    )
    prices = {v[0] for v in _typed(store, typed, "price > 10")}
    assert prices == {"10.25", "100"}  # as strings, '9.5' > '10' and '100' < '10.25'
    assert {v[0] for v in _typed(store, typed, "price >= 9.50 AND price < 100")} == {
        "9.5",
        "10.25",
    }
    assert {v[0] for v in _typed(store, typed, "price = 100.00")} == {"100"}
    assert {v[1] for v in _typed(store, typed, "ratio > 9")} == {"10.0", "1e2"}
    assert {v[1] for v in _typed(store, typed, "ratio = 100")} == {"1e2"}
    assert {v[1] for v in _typed(store, typed, "ratio < '-1e300'")} == {"-Infinity"}
    assert {v[2] for v in _typed(store, typed, "at >= '2024-01-01 10:00'")} == {
        "2024-01-01 10:00:00.5",
        "2024-01-02",
    }
    assert {
        v[2] for v in _typed(store, typed, "at BETWEEN '2024-01-01' AND '2024-01-01 10:00:00.5'")
    } == {
        "2024-01-01 09:00:00",
        "2024-01-01 10:00:00.5",
    }


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("expression", "index"),
    [
        ("price > 10", "ix_partitions_slots"),
        ("ratio BETWEEN 2 AND 9.5", "ix_partitions_k1"),
        ("at >= '2024-01-01 10:00'", "ix_partitions_k2"),
        ("tiny = 3", "ix_partitions_k3"),
    ],
)
def test_typed_comparisons_search_an_index(
    store: SqlCatalogStore, typed: Catalog, backend: Backend, expression: str, index: str
) -> None:
    inputs = [
        PartitionInput((str(p), str(p / 2), f"2024-01-{p % 28 + 1:02d} 10:00", str(p % 7), "1"))
        for p in range(1, 51)
    ]
    assert store.batch_create_partition(typed.id, "sales", "typed", inputs) == []
    _assert_searches_index(store, backend, typed.id, "typed", expression, index)


def test_values_are_kept_exactly_as_given(store: SqlCatalogStore, typed: Catalog) -> None:
    given = ("010.50", "+1.0E2", "2024-01-01T10:00", "-007", "+42")
    created = store.create_partition(typed.id, "sales", "typed", PartitionInput(given))
    assert created.values == given
    assert store.get_partition(typed.id, "sales", "typed", given).values == given
    assert _typed(store, typed, "price = 10.5 AND ratio = 100 AND tiny = -7 AND small = 42") == {
        given
    }
    # A number written another way names another partition, as in Glue.
    other = ("10.5", "+1.0E2", "2024-01-01T10:00", "-007", "+42")
    with pytest.raises(EntityNotFound):
        store.get_partition(typed.id, "sales", "typed", other)
    store.create_partition(typed.id, "sales", "typed", PartitionInput(other))
    assert _typed(store, typed, "price = 10.50") == {given, other}


def test_zero_one_and_one_are_two_partitions_of_an_int_key(
    store: SqlCatalogStore, events: Catalog
) -> None:
    _load(store, events, [("eu", "01", "2024-01-01"), ("eu", "1", "2024-01-01")])
    assert _all(store, events) == {("eu", "01", "2024-01-01"), ("eu", "1", "2024-01-01")}
    assert _all(store, events, "year = 1") == _all(store, events)
    store.delete_partition(events.id, "sales", "events", ("eu", "01", "2024-01-01"))
    assert _all(store, events) == {("eu", "1", "2024-01-01")}
    errors = store.batch_create_partition(
        events.id, "sales", "events", [PartitionInput(("eu", "1", "2024-01-01"))]
    )
    assert [e.error_detail.error_code for e in errors] == ["AlreadyExistsException"]


def test_the_default_partition_is_accepted_for_every_type(
    store: SqlCatalogStore, typed: Catalog
) -> None:
    default = "__HIVE_DEFAULT_PARTITION__"
    nulls = (default,) * 5
    _load_typed = [_row("1"), nulls, (default, "2.0", "2024-01-01", "3", "4")]
    assert (
        store.batch_create_partition(
            typed.id, "sales", "typed", [PartitionInput(v) for v in _load_typed]
        )
        == []
    )
    assert store.get_partition(typed.id, "sales", "typed", nulls).values == nulls
    assert _typed(store, typed, "price IS NULL") == {nulls, _load_typed[2]}
    assert _typed(store, typed, f"price = '{default}'") == {nulls, _load_typed[2]}
    assert _typed(store, typed, f"tiny in (1, '{default}')") == {_row("1"), nulls}
    assert _typed(store, typed, f"tiny not in (3, '{default}')") == {_row("1")}
    assert _typed(store, typed, f"price <> '{default}'") == {_row("1")}
    # A null compares with nothing: neither a comparison nor its negation selects it.
    assert _typed(store, typed, "price > 0") == {_row("1")}
    assert _typed(store, typed, "NOT price > 0") == set()
    with pytest.raises(InvalidInput, match="compare it with = or <> only"):
        _typed(store, typed, f"price > '{default}'")


@pytest.mark.parametrize(
    ("tiny", "small"), [("128", "1"), ("-129", "1"), ("1", "32768"), ("1", "-32769")]
)
def test_tinyint_and_smallint_are_range_checked(
    store: SqlCatalogStore, typed: Catalog, tiny: str, small: str
) -> None:
    with pytest.raises(InvalidInput, match=r"out of the (tinyint|smallint) range"):
        store.create_partition(
            typed.id, "sales", "typed", PartitionInput(("1", "1", "2024-01-01", tiny, small))
        )
    store.create_partition(
        typed.id, "sales", "typed", PartitionInput(("1", "1", "2024-01-01", "-128", "32767"))
    )


# --- Concurrent writers -----------------------------------------------------------------------


def _before_partition_writes(backend: Backend, verb: str, action: Any) -> Any:
    """Runs action(dbapi_cursor) once, just before the first `verb` statement on partitions:
    what a concurrent call would do between the store's check and its write."""
    fired: list[bool] = []

    def hook(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not fired and statement.startswith(f"{verb} ") and "partitions" in statement:
            fired.append(True)
            action(cursor.connection.cursor())

    event.listen(backend.db.engine, "before_cursor_execute", hook)
    return lambda: event.remove(backend.db.engine, "before_cursor_execute", hook)


def _after_partition_check(backend: Backend, action: Any) -> Any:
    """Runs action(dbapi_cursor) once, just after the first read of partitions: what a
    concurrent call would do between the store's check and its write (a batch's rows are
    written with COPY on PostgreSQL, which no statement event sees)."""
    fired: list[bool] = []

    def hook(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not fired and statement.startswith("SELECT ") and "FROM partitions" in statement:
            fired.append(True)
            action(cursor.connection.cursor())

    event.listen(backend.db.engine, "after_cursor_execute", hook)
    return lambda: event.remove(backend.db.engine, "after_cursor_execute", hook)


def test_updating_a_partition_deleted_meanwhile_is_a_concurrent_modification(
    store: SqlCatalogStore, events: Catalog, backend: Backend
) -> None:
    _load(store, events, GRID[:2])
    values = "\x1f".join(GRID[0])
    stop = _before_partition_writes(
        backend,
        "UPDATE",
        lambda cur: cur.execute(f"DELETE FROM partitions WHERE values_key = '{values}'"),
    )
    try:
        with pytest.raises(ConcurrentModification, match="changed by another call"):
            store.update_partition(
                events.id,
                "sales",
                "events",
                GRID[0],
                PartitionInput(GRID[0], parameters={"a": "1"}),
            )
    finally:
        stop()
    # The failed call changed nothing: the concurrent delete was rolled back with it here.
    assert _all(store, events) == {GRID[0], GRID[1]}


def test_a_batch_racing_a_concurrent_create_is_a_concurrent_modification(
    store: SqlCatalogStore, events: Catalog, backend: Backend
) -> None:
    _load(store, events, GRID[:1])
    twin = "\x1f".join(GRID[1])
    stop = _after_partition_check(
        backend,
        lambda cur: cur.execute(
            "INSERT INTO partitions (table_id, values_json, values_key, parameters, "
            f"creation_time) SELECT table_id, '[]', '{twin}', '{{}}', creation_time "
            "FROM partitions WHERE values_key = '" + "\x1f".join(GRID[0]) + "' "
            # This test's table: the one that got its partition last (tests share a database).
            "ORDER BY id DESC LIMIT 1"
        ),
    )
    try:
        with pytest.raises(ConcurrentModification):
            store.batch_create_partition(
                events.id, "sales", "events", [PartitionInput(GRID[1]), PartitionInput(GRID[2])]
            )
    finally:
        stop()
    assert _all(store, events) == {GRID[0]}
