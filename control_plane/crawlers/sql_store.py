"""The SQL store of crawlers, crawls and classifiers (migrations in ./migrations). Every
state change is one conditional update, so two replicas never start one crawler twice."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    Exists,
    Index,
    Integer,
    MetaData,
    Row,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)

from sluice.catalog.core.store.rows import NAME, UtcDateTime
from sluice.common.db import Database
from sluice.common.errors import ConcurrentModification, EntityNotFound, InvalidInput
from sluice.common.paging import Page, PageRequest, PageTokenCodec
from sluice.control_plane.crawlers.model import (
    Classifier,
    Crawl,
    Crawler,
    CrawlerNotRunning,
    CrawlerRunning,
    CrawlerState,
    CrawlerStopping,
    CrawlState,
    ScheduleState,
    crawler_name,
    new_crawl_id,
)
from sluice.control_plane.security import checks

_META = MetaData()
CRAWLERS = Table(
    "crawlers",
    _META,
    Column("id", Integer, primary_key=True),
    Column("account", String(255), nullable=False),
    Column("name", NAME, nullable=False),
    Column("definition", JSON, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("schedule_state", String(16), nullable=False),
    Column("next_fire_at", UtcDateTime, nullable=True),
    Column("version", Integer, nullable=False),
    Column("current_crawl", String(80), nullable=False),
    Column("seen", JSON, nullable=False),
    Column("created_on", UtcDateTime, nullable=False),
    Column("last_updated", UtcDateTime, nullable=False),
)
CRAWLS = Table(
    "crawls",
    _META,
    Column("id", Integer, primary_key=True),
    Column("crawl_id", String(80), nullable=False),
    Column("account", String(255), nullable=False),
    Column("crawler_name", NAME, nullable=False),
    Column("state", String(16), nullable=False),
    Column("started_on", UtcDateTime, nullable=False),
    Column("ended_on", UtcDateTime, nullable=True),
    Column("files_total", BigInteger, nullable=False),
    Column("files_done", BigInteger, nullable=False),
    Column("summary", JSON, nullable=False),
    Column("error_message", Text, nullable=False),
    Column("owner", String(80), nullable=False),
    Column("heartbeat_at", UtcDateTime, nullable=True),
    # The workflow run that began it (None: not begun by a workflow).
    Column("workflow_run_id", String(80), nullable=True),
    Index("ix_crawls_workflow_run_id", "workflow_run_id"),
)
CLASSIFIERS = Table(
    "classifiers",
    _META,
    Column("id", Integer, primary_key=True),
    Column("account", String(255), nullable=False),
    Column("name", NAME, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("definition", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_on", UtcDateTime, nullable=False),
    Column("last_updated", UtcDateTime, nullable=False),
)
MAX_PAGE = 1000
# The owner of a crawl begun by a trigger's fire until a server's runner takes it.
PENDING_OWNER = "pending"


def _now() -> datetime:
    return datetime.now(UTC)


class SqlCrawlerStore:
    """Crawlers, crawls and classifiers of every account on one database."""

    def __init__(self, db: Database, tokens: PageTokenCodec) -> None:
        self._db = db
        self._tokens = tokens

    # Crawlers

    def create_crawler(
        self,
        account: str,
        name: str,
        definition: Mapping[str, Any],
        tags: Mapping[str, str],
        next_fire_at: datetime | None,
    ) -> Crawler:
        acc, nm = checks.account(account), crawler_name(name)
        now = _now()
        scheduled = bool(definition.get("schedule"))
        with self._db.write() as conn:
            conn.execute(
                insert(CRAWLERS).values(
                    account=acc,
                    name=nm,
                    definition=dict(definition),
                    tags=dict(tags),
                    state=str(CrawlerState.READY),
                    schedule_state=str(
                        ScheduleState.SCHEDULED if scheduled else ScheduleState.NOT_SCHEDULED
                    ),
                    next_fire_at=next_fire_at if scheduled else None,
                    version=1,
                    current_crawl="",
                    seen={},
                    created_on=now,
                    last_updated=now,
                )
            )
            return self._crawler(conn, _row(conn, acc, nm))

    def get_crawler(self, account: str, name: str) -> Crawler:
        acc, nm = checks.account(account), crawler_name(name)
        with self._db.read() as conn:
            return self._crawler(conn, _row(conn, acc, nm))

    def find_crawlers(self, account: str, names: Sequence[str]) -> list[Crawler]:
        acc = checks.account(account)
        with self._db.read() as conn:
            rows = conn.execute(
                select(CRAWLERS).where(CRAWLERS.c.account == acc, CRAWLERS.c.name.in_(list(names)))
            ).fetchall()
            return [self._crawler(conn, r) for r in rows]

    def get_crawlers(
        self, account: str, page: PageRequest, tags: Mapping[str, str] | None = None
    ) -> Page[Crawler]:
        acc = checks.account(account)
        wanted = dict(sorted((tags or {}).items()))
        query = self._tokens.page_query(
            replace(page, max_allowed=MAX_PAGE), str, "crawlers", acc, wanted
        )
        kept: list[Crawler] = []
        after = query.after
        with self._db.read() as conn:
            while len(kept) <= query.limit:
                stmt = select(CRAWLERS).where(CRAWLERS.c.account == acc)
                if after is not None:
                    stmt = stmt.where(CRAWLERS.c.name > str(after))
                rows = conn.execute(
                    stmt.order_by(CRAWLERS.c.name).limit(query.limit + 1)
                ).fetchall()
                for row in rows:
                    after = row.name
                    if all(row.tags.get(k) == v for k, v in wanted.items()):
                        kept.append(self._crawler(conn, row))
                if len(rows) <= query.limit:
                    break
        items, token = self._tokens.page_of(query, kept, lambda c: c.name)
        return Page(items=tuple(items), next_token=token)

    def update_crawler(
        self,
        account: str,
        name: str,
        definition: Mapping[str, Any],
        next_fire_at: datetime | None,
    ) -> Crawler:
        """Replaces a crawler's definition unless a crawl runs (CrawlerRunning)."""
        acc, nm = checks.account(account), crawler_name(name)
        with self._db.write() as conn:
            row = _row(conn, acc, nm)
            if row.state != CrawlerState.READY:
                raise CrawlerRunning(f"crawler {nm} is {row.state}: it cannot be changed now")
            values: dict[str, Any] = {
                "definition": dict(definition),
                "version": row.version + 1,
                "last_updated": _now(),
            }
            if not definition.get("schedule"):
                values.update(schedule_state=str(ScheduleState.NOT_SCHEDULED), next_fire_at=None)
            elif row.schedule_state == ScheduleState.SCHEDULED or not row.definition.get(
                "schedule"
            ):
                values.update(
                    schedule_state=str(ScheduleState.SCHEDULED), next_fire_at=next_fire_at
                )
            done = conn.execute(
                update(CRAWLERS)
                .where(CRAWLERS.c.id == row.id, CRAWLERS.c.version == row.version)
                .values(**values)
            )
            if done.rowcount != 1:
                raise CrawlerRunning(f"crawler {nm} changed meanwhile")
            return self._crawler(conn, _row(conn, acc, nm))

    def delete_crawler(self, account: str, name: str) -> None:
        acc, nm = checks.account(account), crawler_name(name)
        with self._db.write() as conn:
            done = conn.execute(
                delete(CRAWLERS).where(
                    CRAWLERS.c.account == acc,
                    CRAWLERS.c.name == nm,
                    CRAWLERS.c.state == str(CrawlerState.READY),
                )
            )
            if done.rowcount != 1:
                row = _row(conn, acc, nm)
                raise CrawlerRunning(f"crawler {nm} is {row.state}: stop it first")
            conn.execute(delete(CRAWLS).where(CRAWLS.c.account == acc, CRAWLS.c.crawler_name == nm))

    def set_schedule(
        self, account: str, name: str, scheduled: bool, next_fire_at: datetime | None
    ) -> Crawler:
        acc, nm = checks.account(account), crawler_name(name)
        with self._db.write() as conn:
            row = _row(conn, acc, nm)
            conn.execute(
                update(CRAWLERS)
                .where(CRAWLERS.c.id == row.id)
                .values(
                    schedule_state=str(
                        ScheduleState.SCHEDULED if scheduled else ScheduleState.NOT_SCHEDULED
                    ),
                    next_fire_at=next_fire_at if scheduled else None,
                )
            )
            return self._crawler(conn, _row(conn, acc, nm))

    def due_crawlers(self, now: datetime) -> list[Crawler]:
        with self._db.read() as conn:
            rows = conn.execute(
                select(CRAWLERS).where(
                    CRAWLERS.c.next_fire_at.is_not(None), CRAWLERS.c.next_fire_at <= now
                )
            ).fetchall()
            return [self._crawler(conn, r) for r in rows]

    def advance_schedule(self, crawler: Crawler, next_fire_at: datetime | None) -> bool:
        """Moves a due crawler's next fire time on; False if another replica did first."""
        with self._db.write() as conn:
            done = conn.execute(
                update(CRAWLERS)
                .where(
                    CRAWLERS.c.account == crawler.account,
                    CRAWLERS.c.name == crawler.name,
                    CRAWLERS.c.next_fire_at == crawler.next_fire_at,
                )
                .values(next_fire_at=next_fire_at)
            )
            return done.rowcount == 1

    # Crawls

    def start_crawl(self, account: str, name: str, owner: str = "") -> tuple[Crawler, Crawl]:
        """READY -> RUNNING with a new crawl record (run by owner), in one conditional update."""
        acc, nm = checks.account(account), crawler_name(name)
        with self._db.write() as conn:
            crawl_id = begin_crawl(conn, acc, nm, owner)
            crawler = self._crawler(conn, _row(conn, acc, nm))
            return crawler, _crawl(_crawl_row(conn, crawl_id))

    def claim_pending(self, owner: str) -> list[tuple[Crawler, Crawl]]:
        """The crawls begun by a trigger's fire (PENDING_OWNER) that owner now runs, each taken
        with a conditional update (one server takes each)."""
        with self._db.read() as conn:
            ids = list(
                conn.execute(
                    select(CRAWLS.c.crawl_id).where(
                        CRAWLS.c.owner == PENDING_OWNER,
                        CRAWLS.c.state == str(CrawlState.RUNNING),
                    )
                ).scalars()
            )
        claimed = []
        for crawl_id in ids:
            with self._db.write() as conn:
                taken = conn.execute(
                    update(CRAWLS)
                    .where(
                        CRAWLS.c.crawl_id == crawl_id,
                        CRAWLS.c.owner == PENDING_OWNER,
                        CRAWLS.c.state == str(CrawlState.RUNNING),
                    )
                    .values(owner=owner, heartbeat_at=_now())
                ).rowcount
                if taken != 1:
                    continue
                crawl = _crawl(_crawl_row(conn, crawl_id))
                crawler = self._crawler(conn, _row(conn, crawl.account, crawl.crawler_name))
                claimed.append((crawler, crawl))
        return claimed

    def stop_crawl(self, account: str, name: str) -> Crawler:
        """RUNNING -> STOPPING."""
        acc, nm = checks.account(account), crawler_name(name)
        with self._db.write() as conn:
            done = conn.execute(
                update(CRAWLERS)
                .where(
                    CRAWLERS.c.account == acc,
                    CRAWLERS.c.name == nm,
                    CRAWLERS.c.state == str(CrawlerState.RUNNING),
                )
                .values(state=str(CrawlerState.STOPPING))
            )
            if done.rowcount != 1:
                row = _row(conn, acc, nm)
                if row.state == CrawlerState.STOPPING:
                    raise CrawlerStopping(f"crawler {nm} is already stopping")
                raise CrawlerNotRunning(f"crawler {nm} is not running")
            return self._crawler(conn, _row(conn, acc, nm))

    def crawl_progress(self, crawl_id: str, done: int, total: int) -> None:
        with self._db.write() as conn:
            conn.execute(
                update(CRAWLS)
                .where(CRAWLS.c.crawl_id == crawl_id, CRAWLS.c.state == str(CrawlState.RUNNING))
                .values(files_done=done, files_total=total)
            )

    def finish_crawl(
        self,
        crawl_id: str,
        state: CrawlState,
        summary: Mapping[str, Any],
        error_message: str = "",
        seen: Mapping[str, Any] | None = None,
    ) -> None:
        """Ends a crawl and makes its crawler READY again (seen replaced when given)."""
        with self._db.write() as conn:
            row = _crawl_row(conn, crawl_id)
            conn.execute(
                update(CRAWLS)
                .where(CRAWLS.c.crawl_id == crawl_id, CRAWLS.c.state == str(CrawlState.RUNNING))
                .values(
                    state=str(state),
                    ended_on=_now(),
                    summary=dict(summary),
                    error_message=error_message[:2048],
                )
            )
            values: dict[str, Any] = {"state": str(CrawlerState.READY), "current_crawl": ""}
            if seen is not None:
                values["seen"] = dict(seen)
            conn.execute(
                update(CRAWLERS)
                .where(
                    CRAWLERS.c.account == row.account,
                    CRAWLERS.c.name == row.crawler_name,
                    CRAWLERS.c.current_crawl == crawl_id,
                )
                .values(**values)
            )

    def heartbeat(self, crawl_ids: Sequence[str]) -> None:
        """The crawls given (run here) are alive."""
        if not crawl_ids:
            return
        with self._db.write() as conn:
            conn.execute(
                update(CRAWLS)
                .where(
                    CRAWLS.c.crawl_id.in_(list(crawl_ids)),
                    CRAWLS.c.state == str(CrawlState.RUNNING),
                )
                .values(heartbeat_at=_now())
            )

    def orphaned_crawls(self, silent_since: datetime, owner: str) -> list[Crawl]:
        """Running crawls of another owner with no heartbeat since silent_since (their server
        died), and those of owner's previous life (owner is this server's run)."""
        with self._db.read() as conn:
            rows = conn.execute(
                select(CRAWLS).where(
                    CRAWLS.c.state == str(CrawlState.RUNNING),
                    CRAWLS.c.owner != owner,
                    CRAWLS.c.owner != PENDING_OWNER,
                    (CRAWLS.c.heartbeat_at.is_(None)) | (CRAWLS.c.heartbeat_at < silent_since),
                )
            ).fetchall()
            return [_crawl(r) for r in rows]

    def get_crawl(self, crawl_id: str) -> Crawl:
        with self._db.read() as conn:
            return _crawl(_crawl_row(conn, crawl_id))

    def crawl_is_active(self, crawl_id: str) -> bool:
        """Whether a crawl's token still works: its crawl RUNNING and not asked to stop (from
        StopCrawler on, the crawl changes nothing more, even before its run is gone)."""
        with self._db.read() as conn:
            row = conn.execute(
                select(CRAWLS.c.state, _stop_requested(crawl_id).label("stopping")).where(
                    CRAWLS.c.crawl_id == crawl_id
                )
            ).first()
            return row is not None and row.state == CrawlState.RUNNING and not row.stopping

    def crawl_stop_requested(self, crawl_id: str) -> bool:
        """Whether StopCrawler was accepted for this crawl (its crawler is STOPPING), on any
        server."""
        with self._db.read() as conn:
            return bool(conn.execute(select(_stop_requested(crawl_id))).scalar())

    def list_crawls(self, account: str, name: str, page: PageRequest) -> Page[Crawl]:
        """A crawler's crawls, newest first."""
        acc, nm = checks.account(account), crawler_name(name)
        query = self._tokens.page_query(replace(page, max_allowed=MAX_PAGE), int, "crawls", acc, nm)
        with self._db.read() as conn:
            _row(conn, acc, nm)
            stmt = select(CRAWLS).where(CRAWLS.c.account == acc, CRAWLS.c.crawler_name == nm)
            if query.after is not None:
                stmt = stmt.where(CRAWLS.c.id < int(query.after))
            rows = conn.execute(stmt.order_by(CRAWLS.c.id.desc()).limit(query.limit + 1)).fetchall()
        kept, token = self._tokens.page_of(query, rows, lambda r: r.id)
        return Page(items=tuple(_crawl(r) for r in kept), next_token=token)

    def crawl_history(self, account: str, name: str, limit: int = 20) -> list[Crawl]:
        with self._db.read() as conn:
            rows = conn.execute(
                select(CRAWLS)
                .where(CRAWLS.c.account == account, CRAWLS.c.crawler_name == name)
                .order_by(CRAWLS.c.id.desc())
                .limit(limit)
            ).fetchall()
            return [_crawl(r) for r in rows]

    # Classifiers

    def create_classifier(
        self, account: str, name: str, kind: str, definition: Mapping[str, Any]
    ) -> Classifier:
        acc, nm = checks.account(account), crawler_name(name)
        now = _now()
        with self._db.write() as conn:
            conn.execute(
                insert(CLASSIFIERS).values(
                    account=acc,
                    name=nm,
                    kind=kind,
                    definition=dict(definition),
                    version=1,
                    created_on=now,
                    last_updated=now,
                )
            )
            return _classifier(_classifier_row(conn, acc, nm))

    def get_classifier(self, account: str, name: str) -> Classifier:
        acc, nm = checks.account(account), crawler_name(name)
        with self._db.read() as conn:
            return _classifier(_classifier_row(conn, acc, nm))

    def get_classifiers(self, account: str, page: PageRequest) -> Page[Classifier]:
        acc = checks.account(account)
        query = self._tokens.page_query(
            replace(page, max_allowed=MAX_PAGE), str, "classifiers", acc
        )
        with self._db.read() as conn:
            stmt = select(CLASSIFIERS).where(CLASSIFIERS.c.account == acc)
            if query.after is not None:
                stmt = stmt.where(CLASSIFIERS.c.name > str(query.after))
            rows = conn.execute(stmt.order_by(CLASSIFIERS.c.name).limit(query.limit + 1)).fetchall()
        kept, token = self._tokens.page_of(query, rows, lambda r: r.name)
        return Page(items=tuple(_classifier(r) for r in kept), next_token=token)

    def update_classifier(
        self, account: str, name: str, kind: str, definition: Mapping[str, Any]
    ) -> Classifier:
        acc, nm = checks.account(account), crawler_name(name)
        with self._db.write() as conn:
            row = _classifier_row(conn, acc, nm)
            if row.kind != kind:
                raise InvalidInput(f"classifier {nm} is a {row.kind} classifier, not {kind}")
            conn.execute(
                update(CLASSIFIERS)
                .where(CLASSIFIERS.c.id == row.id)
                .values(definition=dict(definition), version=row.version + 1, last_updated=_now())
            )
            return _classifier(_classifier_row(conn, acc, nm))

    def delete_classifier(self, account: str, name: str) -> None:
        acc, nm = checks.account(account), crawler_name(name)
        with self._db.write() as conn:
            done = conn.execute(
                delete(CLASSIFIERS).where(CLASSIFIERS.c.account == acc, CLASSIFIERS.c.name == nm)
            )
            if done.rowcount != 1:
                raise EntityNotFound(f"classifier {nm} not found")

    def _crawler(self, conn: Connection, row: Row) -> Crawler:
        last = conn.execute(
            select(CRAWLS)
            .where(
                CRAWLS.c.account == row.account,
                CRAWLS.c.crawler_name == row.name,
                CRAWLS.c.state != str(CrawlState.RUNNING),
            )
            .order_by(CRAWLS.c.id.desc())
            .limit(1)
        ).first()
        return Crawler(
            account=row.account,
            name=row.name,
            definition=dict(row.definition),
            tags=dict(row.tags),
            state=CrawlerState(row.state),
            schedule_state=ScheduleState(row.schedule_state),
            next_fire_at=row.next_fire_at,
            version=row.version,
            current_crawl=row.current_crawl,
            seen=dict(row.seen),
            created_on=row.created_on,
            last_updated=row.last_updated,
            last_crawl=_crawl(last) if last is not None else None,
        )


def begin_crawl(
    conn: Connection,
    account: str,
    name: str,
    owner: str,
    *,
    role: str | None = None,
    workflow_run_id: str | None = None,
) -> str:
    """In conn's transaction: the crawler READY -> RUNNING (one conditional update) and its new
    crawl record, run by owner; the crawl's id. CrawlerRunning if it runs already,
    EntityNotFound if it is gone, ConcurrentModification if role is given and no longer the
    crawler's."""
    if role is not None:
        row = _row(conn, account, name)
        if str(row.definition.get("role", "")) != role:
            raise ConcurrentModification(
                f"crawler {name} changed its role since the trigger was made"
            )
    crawl_id = new_crawl_id()
    now = _now()
    done = conn.execute(
        update(CRAWLERS)
        .where(
            CRAWLERS.c.account == account,
            CRAWLERS.c.name == name,
            CRAWLERS.c.state == str(CrawlerState.READY),
        )
        .values(state=str(CrawlerState.RUNNING), current_crawl=crawl_id)
    )
    if done.rowcount != 1:
        row = _row(conn, account, name)
        raise CrawlerRunning(f"crawler {name} is already {row.state}")
    conn.execute(
        insert(CRAWLS).values(
            crawl_id=crawl_id,
            account=account,
            crawler_name=name,
            state=str(CrawlState.RUNNING),
            started_on=now,
            ended_on=None,
            files_total=0,
            files_done=0,
            summary={},
            error_message="",
            owner=owner,
            heartbeat_at=now,
            workflow_run_id=workflow_run_id,
        )
    )
    return crawl_id


def _row(conn: Connection, account: str, name: str) -> Row:
    row = conn.execute(
        select(CRAWLERS).where(CRAWLERS.c.account == account, CRAWLERS.c.name == name)
    ).first()
    if row is None:
        raise EntityNotFound(f"crawler {name} not found")
    return row


def _crawl_row(conn: Connection, crawl_id: str) -> Row:
    row = conn.execute(select(CRAWLS).where(CRAWLS.c.crawl_id == crawl_id)).first()
    if row is None:
        raise EntityNotFound(f"crawl {crawl_id} not found")
    return row


def _crawl(row: Row) -> Crawl:
    return Crawl(
        crawl_id=row.crawl_id,
        account=row.account,
        crawler_name=row.crawler_name,
        state=CrawlState(row.state),
        started_on=row.started_on,
        ended_on=row.ended_on,
        files_total=row.files_total,
        files_done=row.files_done,
        summary=dict(row.summary),
        error_message=row.error_message,
    )


def _classifier_row(conn: Connection, account: str, name: str) -> Row:
    row = conn.execute(
        select(CLASSIFIERS).where(CLASSIFIERS.c.account == account, CLASSIFIERS.c.name == name)
    ).first()
    if row is None:
        raise EntityNotFound(f"classifier {name} not found")
    return row


def _classifier(row: Row) -> Classifier:
    return Classifier(
        account=row.account,
        name=row.name,
        kind=row.kind,
        definition=dict(row.definition),
        version=row.version,
        created_on=row.created_on,
        last_updated=row.last_updated,
    )


def _stop_requested(crawl_id: str) -> Exists:
    """True while the crawler whose current crawl this is is STOPPING."""
    return (
        select(CRAWLERS.c.id)
        .where(
            CRAWLERS.c.current_crawl == crawl_id,
            CRAWLERS.c.state == str(CrawlerState.STOPPING),
        )
        .exists()
    )
