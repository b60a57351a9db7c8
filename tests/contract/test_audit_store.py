"""The audit store contract: the same tests against SQLite and PostgreSQL.

Each backend is a fresh database per module (a SQLite file, or a PostgreSQL schema). Tests share
it and work in accounts of their own, except where they look at the whole trail's order.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from sluice.common.db import Database, sqlite_url
from sluice.common.errors import InvalidInput
from sluice.common.paging import PageRequest, PageTokenCodec
from sluice.control_plane.audit.model import (
    GRPC_UNKNOWN,
    Attr,
    AuditFilter,
    AuditRecord,
    Completion,
    Outcome,
    datetime_to_ns,
)
from sluice.control_plane.audit.schema import upgrade_schema
from sluice.control_plane.audit.sql_store import SqlAuditStore
from tests.contract.conftest import POSTGRES_URL

pytestmark = pytest.mark.contract

TOKEN_KEY = b"audit-store-contract-test-key-01"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    if request.param == "sqlite":
        database = Database(sqlite_url(tmp_path_factory.mktemp("audit")))
        try:
            upgrade_schema(database)
            upgrade_schema(database)  # a second run finds nothing to do
            yield database
        finally:
            database.dispose()
        return
    schema = f"audit_contract_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    database = Database(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
    try:
        upgrade_schema(database)
        upgrade_schema(database)
        yield database
    finally:
        database.dispose()
        with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def store(db: Database) -> SqlAuditStore:
    return SqlAuditStore(db, PageTokenCodec(TOKEN_KEY))


@pytest.fixture
def account() -> str:
    return f"acct-{uuid.uuid4().hex[:12]}"


def make(
    account: str,
    *,
    at: datetime = T0,
    principal: str = "p-1",
    principal_name: str = "alice",
    action: str = "glue:GetTable",
    resource: str = "",
    outcome: Outcome | None = Outcome.SUCCESS,
    code: int = 0,
    read_only: bool = True,
    attributes: dict[str, object] | None = None,
) -> AuditRecord:
    """A record of a call started at `at` that took a millisecond (in flight if outcome is None)."""
    start = datetime_to_ns(at)
    return AuditRecord(
        trace_id=uuid.uuid4().hex,
        span_id=uuid.uuid4().hex[:16],
        name=f"sluice.catalog.v1.CatalogService/{action.partition(':')[2] or action}",
        start_ns=start,
        kind="SERVER",
        end_ns=0 if outcome is None else start + 1_000_000,
        attributes={Attr.ACCOUNT: account, **(attributes or {})},
        account=account,
        principal=principal,
        principal_name=principal_name,
        action=action,
        resource=resource or f"sluice:catalog:{account}:table/sales/orders",
        outcome=outcome,
        grpc_code=-1 if outcome is None else code,
        read_only=read_only,
        request_id=uuid.uuid4().hex,
    )


def everything(store: SqlAuditStore, audit_filter: AuditFilter, size: int = 0) -> list[AuditRecord]:
    items: list[AuditRecord] = []
    token = ""
    for _ in range(1000):
        page = store.query(audit_filter, PageRequest(max_results=size, next_token=token))
        items.extend(page.items)
        token = page.next_token
        if not token:
            return items
    raise AssertionError("paging did not end")


def by_account(account: str, **fields: object) -> AuditFilter:
    return AuditFilter(account=account, **fields)  # type: ignore[arg-type]


def span_ids(records: list[AuditRecord]) -> list[str]:
    return [r.span_id for r in records]


# Writing with a change, completing


def test_a_record_inserted_in_a_transaction_commits_with_it(
    store: SqlAuditStore, db: Database, account: str
) -> None:
    record = make(account, outcome=None)
    with db.write() as conn:
        row_id = store.insert(conn, record)
        assert store.exists(conn, row_id, record.span_id)

    [stored] = everything(store, by_account(account))
    assert stored.span_id == record.span_id
    assert stored.outcome is None and not stored.complete
    assert stored.seq == 0  # in flight: not sequenced


def test_a_record_inserted_in_a_transaction_that_rolls_back_is_gone(
    store: SqlAuditStore, db: Database, account: str
) -> None:
    record = make(account, outcome=None)
    with pytest.raises(RuntimeError), db.write() as conn:
        store.insert(conn, record)
        raise RuntimeError("the change failed")

    assert everything(store, by_account(account)) == []


def test_exists_checks_the_row_holds_the_span(
    store: SqlAuditStore, db: Database, account: str
) -> None:
    record = make(account, outcome=None)
    with db.write() as conn:
        row_id = store.insert(conn, record)
    with db.write() as conn:
        assert store.exists(conn, row_id, record.span_id)
        assert not store.exists(conn, row_id, "0" * 16)
        assert not store.exists(conn, row_id + 1_000_000, record.span_id)


def test_complete_overwrites_the_record_and_it_is_then_sequenced(
    store: SqlAuditStore, db: Database, account: str
) -> None:
    pending = make(account, outcome=None, read_only=False, action="glue:CreateTable")
    with db.write() as conn:
        row_id = store.insert(conn, pending)
    final = replace(
        pending,
        end_ns=pending.start_ns + 5,
        outcome=Outcome.SUCCESS,
        grpc_code=0,
        attributes={**pending.attributes, Attr.OUTCOME: "success"},
    )

    assert store.complete(Completion(final, row_id))
    [stored] = everything(store, by_account(account))
    assert (stored.outcome, stored.grpc_code, stored.end_ns) == (Outcome.SUCCESS, 0, final.end_ns)
    assert stored.attributes[Attr.OUTCOME] == "success"
    assert stored.seq == 0

    assert store.write_batch([]) >= 1
    [sequenced] = everything(store, by_account(account))
    assert sequenced.seq == store.last_seq()


def test_completing_a_missing_row_writes_nothing_but_a_batch_inserts_it(
    store: SqlAuditStore, account: str
) -> None:
    record = make(account)
    assert not store.complete(Completion(record, 987_654_321))
    assert everything(store, by_account(account)) == []

    store.write_batch([], [Completion(record, 987_654_321)])
    [stored] = everything(store, by_account(account))
    assert stored.span_id == record.span_id and stored.seq > 0


# Sequencing


def test_batches_are_numbered_densely_in_order(store: SqlAuditStore, account: str) -> None:
    before = store.last_seq()
    records = [make(account, at=T0 + timedelta(seconds=i)) for i in range(5)]

    assert store.write_batch(records[:2]) == 2
    assert store.write_batch(records[2:]) == 3

    batch = store.after(before, by_account(account), limit=100)
    assert span_ids(list(batch.records)) == span_ids(records)
    assert [r.seq for r in batch.records] == list(range(before + 1, before + 6))
    assert store.last_seq() == before + 5


def test_records_in_flight_wait_for_their_completion_to_be_sequenced(
    store: SqlAuditStore, db: Database, account: str
) -> None:
    early = make(account, outcome=None, at=T0)
    with db.write() as conn:
        row_id = store.insert(conn, early)
    later = make(account, at=T0 + timedelta(seconds=1))
    before = store.last_seq()

    store.write_batch([later])
    assert span_ids(list(store.after(before, by_account(account)).records)) == [later.span_id]

    store.complete(Completion(replace(early, end_ns=early.start_ns + 9), row_id))
    store.write_batch([])
    records = list(store.after(before, by_account(account)).records)
    assert span_ids(records) == [later.span_id, early.span_id]


def test_after_skips_what_does_not_match_and_says_where_to_go_on(
    store: SqlAuditStore, account: str
) -> None:
    other = f"{account}-other"
    before = store.last_seq()
    store.write_batch([make(account), make(other), make(other), make(account), make(other)])

    first = store.after(before, by_account(account), limit=1)
    assert len(first.records) == 1 and first.next_seq == first.records[0].seq
    rest = store.after(first.next_seq, by_account(account), limit=10)
    assert len(rest.records) == 1
    assert rest.next_seq == before + 5  # past the other account's records too
    assert store.after(rest.next_seq, by_account(account)).records == ()
    assert store.after(rest.next_seq, by_account(account)).next_seq == rest.next_seq


def test_seq_before_a_time_starts_a_follow_there(store: SqlAuditStore, account: str) -> None:
    base = T0 + timedelta(days=3650)
    old, new = make(account, at=base), make(account, at=base + timedelta(minutes=5))
    store.write_batch([old, new])

    start = store.seq_before(base + timedelta(minutes=1))
    found = store.after(start, by_account(account, start_time=base + timedelta(minutes=1)))
    assert span_ids(list(found.records)) == [new.span_id]
    assert store.seq_before(base + timedelta(days=1)) == store.last_seq()


def test_concurrent_batches_get_distinct_dense_numbers(store: SqlAuditStore, account: str) -> None:
    before = store.last_seq()
    threads = [
        threading.Thread(target=store.write_batch, args=([make(account) for _ in range(5)],))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    seqs = [r.seq for r in store.after(before, by_account(account), limit=100).records]
    assert seqs == list(range(before + 1, before + 21))


def test_interrupted_calls_are_completed_as_failures(
    store: SqlAuditStore, db: Database, account: str
) -> None:
    record = make(account, outcome=None, read_only=False)
    with db.write() as conn:
        store.insert(conn, record)

    assert store.recover_interrupted(record.start_ns + 10) >= 1

    [stored] = everything(store, by_account(account))
    assert stored.outcome is Outcome.FAILURE and stored.grpc_code == GRPC_UNKNOWN
    assert stored.end_ns == record.start_ns + 10 and stored.status_code == "ERROR"
    assert stored.attributes[Attr.INTERRUPTED] is True
    assert stored.seq > 0
    assert store.recover_interrupted(record.start_ns + 20) == 0


# Queries


def test_query_is_newest_first_and_pages(store: SqlAuditStore, account: str) -> None:
    records = [make(account, at=T0 + timedelta(seconds=i)) for i in range(7)]
    store.write_batch(records)

    found = everything(store, by_account(account), size=3)
    assert span_ids(found) == span_ids(records[::-1])
    first = store.query(by_account(account), PageRequest(max_results=3))
    assert len(first.items) == 3 and first.next_token


def test_query_pages_through_records_of_the_same_instant(
    store: SqlAuditStore, account: str
) -> None:
    records = [make(account, at=T0) for _ in range(5)]
    store.write_batch(records)

    found = everything(store, by_account(account), size=2)
    assert sorted(span_ids(found)) == sorted(span_ids(records))


def test_query_includes_calls_in_flight(store: SqlAuditStore, db: Database, account: str) -> None:
    with db.write() as conn:
        store.insert(conn, make(account, outcome=None))

    [found] = everything(store, by_account(account))
    assert found.outcome is None and found.grpc_code == -1


def test_query_by_principal_id_or_name(store: SqlAuditStore, account: str) -> None:
    alice = make(account, principal="p-a", principal_name="alice")
    bob = make(account, principal="p-b", principal_name="bob")
    store.write_batch([alice, bob])

    assert span_ids(everything(store, by_account(account, principal="p-a"))) == [alice.span_id]
    assert span_ids(everything(store, by_account(account, principal="bob"))) == [bob.span_id]
    assert everything(store, by_account(account, principal="carol")) == []


def test_query_and_follow_by_trace_id(store: SqlAuditStore, account: str) -> None:
    call = make(account, at=T0)
    child = replace(make(account, at=T0 + timedelta(seconds=1)), trace_id=call.trace_id)
    other = make(account, at=T0 + timedelta(seconds=2))
    before = store.last_seq()
    store.write_batch([call, child, other])

    traced = by_account(account, trace_id=call.trace_id)
    assert span_ids(everything(store, traced)) == [child.span_id, call.span_id]
    assert span_ids(list(store.after(before, traced).records)) == [call.span_id, child.span_id]
    assert everything(store, by_account(f"{account}-other", trace_id=call.trace_id)) == []
    assert everything(store, by_account(account, trace_id="0" * 32)) == []


def test_query_by_action_exact_by_name_or_glob(store: SqlAuditStore, account: str) -> None:
    get = make(account, action="glue:GetTable", at=T0)
    gets = make(account, action="glue:GetTables", at=T0 + timedelta(seconds=1))
    create = make(account, action="glue:CreateTable", at=T0 + timedelta(seconds=2))
    store.write_batch([get, gets, create])

    def found(action: str) -> list[str]:
        return span_ids(everything(store, by_account(account, action=action)))

    assert found("glue:GetTable") == [get.span_id]
    assert found("GetTable") == [get.span_id]
    assert found("glue:Get*") == [gets.span_id, get.span_id]
    assert found("*Table") == [create.span_id, get.span_id]
    assert found("Get") == []


def test_query_by_resource_prefix_or_glob_with_like_characters_literal(
    store: SqlAuditStore, account: str
) -> None:
    base = f"sluice:catalog:{account}"
    orders = make(account, resource=f"{base}:table/sales/orders", at=T0)
    other = make(account, resource=f"{base}:table/salesXorders", at=T0 + timedelta(seconds=1))
    odd = make(account, resource=f"{base}:table/s%_x/t", at=T0 + timedelta(seconds=2))
    store.write_batch([orders, other, odd])

    def found(resource: str) -> list[str]:
        return span_ids(everything(store, by_account(account, resource=resource)))

    assert found(f"{base}:table/sales/") == [orders.span_id]
    assert found(f"{base}:table/sales?orders") == [other.span_id, orders.span_id]
    assert found(f"{base}:table/*/orders") == [orders.span_id]
    assert found(f"{base}:table/s%_x/") == [odd.span_id]
    assert found(f"{base}:table/s%") == [odd.span_id]
    assert found(f"{base}:TABLE/") == []


def test_query_by_outcome_time_range_and_account(store: SqlAuditStore, account: str) -> None:
    other = f"{account}-b"
    ok = make(account, at=T0)
    denied = make(account, outcome=Outcome.DENIED, code=7, at=T0 + timedelta(minutes=1))
    failed = make(account, outcome=Outcome.FAILURE, code=5, at=T0 + timedelta(minutes=2))
    theirs = make(other, at=T0 + timedelta(minutes=1))
    store.write_batch([ok, denied, failed, theirs])

    def found(audit_filter: AuditFilter) -> list[str]:
        return span_ids(everything(store, audit_filter))

    assert found(by_account(account, outcome=Outcome.DENIED)) == [denied.span_id]
    window = by_account(
        account, start_time=T0 + timedelta(minutes=1), end_time=T0 + timedelta(minutes=2)
    )
    assert found(window) == [denied.span_id]
    assert found(by_account(other)) == [theirs.span_id]
    assert found(by_account(f"{account}-nobody")) == []
    everyone = found(AuditFilter(start_time=T0, end_time=T0 + timedelta(minutes=3)))
    assert {ok.span_id, denied.span_id, failed.span_id, theirs.span_id} <= set(everyone)


def test_a_token_is_bound_to_its_query(store: SqlAuditStore, account: str) -> None:
    store.write_batch([make(account, at=T0 + timedelta(seconds=i)) for i in range(3)])
    page = store.query(by_account(account), PageRequest(max_results=1))

    with pytest.raises(InvalidInput):
        store.query(by_account(account, principal="p-1"), PageRequest(next_token=page.next_token))
    with pytest.raises(InvalidInput):
        store.query(by_account(account), PageRequest(next_token=page.next_token[:-2] + "xx"))


def test_attributes_keep_their_types(store: SqlAuditStore, account: str) -> None:
    values = {"s": "text", "i": 7, "b": False, "f": 1.5, "l": ["a", "b"]}
    store.write_batch([make(account, attributes=values)])

    [found] = everything(store, by_account(account))
    assert {k: found.attributes[k] for k in values} == values
    assert found.time == T0


# Export cursors


def test_export_cursors(store: SqlAuditStore) -> None:
    name = f"otlp-{uuid.uuid4().hex[:8]}"
    assert store.get_cursor(name) == 0
    store.set_cursor(name, 12)
    store.set_cursor(name, 40)
    assert store.get_cursor(name) == 40
    assert store.get_cursor(f"{name}-other") == 0


# Retention (last in the module: pruning is not scoped to an account)


def test_prune_deletes_old_records_oldest_first_in_bounded_batches(
    store: SqlAuditStore, db: Database, account: str
) -> None:
    old = T0 - timedelta(days=400)
    cutoff = T0 - timedelta(days=300)
    olds = [make(account, at=old + timedelta(seconds=i)) for i in range(5)]
    store.write_batch(olds)
    in_flight = make(account, at=old, outcome=None)
    with db.write() as conn:
        store.insert(conn, in_flight)
    recent = make(account, at=T0)
    store.write_batch([recent])

    assert store.prune(cutoff, 2) == 2
    assert set(span_ids(everything(store, by_account(account)))) == {
        r.span_id for r in (*olds[2:], in_flight, recent)
    }
    assert store.prune(cutoff, 2) == 2
    assert store.prune(cutoff, 2) == 1
    assert store.prune(cutoff, 2) == 0

    # A call still being recorded stays, however old; so does what is recent.
    assert set(span_ids(everything(store, by_account(account)))) == {
        in_flight.span_id,
        recent.span_id,
    }


def test_prune_keeps_the_last_seq_and_what_an_exporter_has_not_delivered(
    store: SqlAuditStore, account: str
) -> None:
    ancient = T0 - timedelta(days=1000)
    cutoff = T0 - timedelta(days=900)
    records = [make(account, at=ancient + timedelta(seconds=i)) for i in range(3)]
    store.write_batch(records)
    top = store.last_seq()

    assert store.prune(cutoff, 100, max_seq=top - 2) == 1
    assert store.prune(cutoff, 100) == 1

    # The newest record stays: seqs go on from it, so followers and exporters skip nothing.
    assert span_ids(everything(store, by_account(account))) == [records[2].span_id]
    assert store.last_seq() == top
    store.write_batch([make(account, at=T0)])
    assert store.last_seq() == top + 1
