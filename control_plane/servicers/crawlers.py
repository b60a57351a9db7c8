"""The CrawlerService servicer: convert, check, call the crawler store or runner, respond.

Creating or updating a crawler passes its role to its crawls: the caller must be allowed
sluice:PassRole on it (as CreateJob). Classifiers a crawler names must exist.
"""

from __future__ import annotations

import statistics
from datetime import UTC, datetime
from typing import TypeAlias

import grpc

from sluice.agents.crawler.engine import LocalAccess
from sluice.common.errors import EntityNotFound, InvalidInput
from sluice.common.paging import PageRequest
from sluice.control_plane.convert import crawlers as convert
from sluice.control_plane.crawlers.model import (
    Crawler,
    CrawlerState,
    CrawlState,
    NoSchedule,
    SchedulerNotRunning,
    SchedulerRunning,
    ScheduleState,
    crawler_name,
)
from sluice.control_plane.crawlers.runner import CrawlRunner, next_fire
from sluice.control_plane.crawlers.sql_store import SqlCrawlerStore
from sluice.control_plane.security.calls import current_call
from sluice.control_plane.security.roles import CallerPassesRole, RolePassing
from sluice.crawlers.v1 import crawlers_pb2 as api
from sluice.crawlers.v1 import crawlers_pb2_grpc

Ctx: TypeAlias = grpc.ServicerContext

MAX_BATCH_GET = 100
CRAWLER_SERVICE = api.DESCRIPTOR.services_by_name["CrawlerService"].full_name


def _page(request: api.GetCrawlersRequest | api.ListCrawlersRequest) -> PageRequest:
    return PageRequest(max_results=request.max_results, next_token=request.next_token)


class CrawlerServicer(crawlers_pb2_grpc.CrawlerServiceServicer):
    """Serves sluice.crawlers.v1.CrawlerService.

    Args:
        store: Where crawlers, crawls and classifiers are kept.
        runner: Starts and stops crawls.
        account: The account every call acts as on a server without authentication.
        roles: Whether the caller may pass a role.
        local: Where file:// targets may be; None: anywhere.
    """

    def __init__(
        self,
        store: SqlCrawlerStore,
        runner: CrawlRunner,
        *,
        account: str,
        roles: RolePassing | None = None,
        local: LocalAccess | None = None,
    ) -> None:
        if not account:
            raise ValueError("account must not be empty")
        self._store = store
        self._runner = runner
        self._account_id = account
        self._roles = roles or CallerPassesRole()
        self._local = local

    def _account(self) -> str:
        info = current_call()
        if info is not None and info.account:
            return info.account
        return self._account_id

    def _check_classifiers(self, account: str, names: list[str]) -> None:
        for name in names:
            try:
                self._store.get_classifier(account, name)
            except EntityNotFound:
                raise InvalidInput(f"classifier {name} does not exist") from None

    def _to_proto(self, crawler: Crawler) -> api.Crawler:
        elapsed = 0
        if crawler.state != CrawlerState.READY and crawler.current_crawl:
            try:
                crawl = self._store.get_crawl(crawler.current_crawl)
                elapsed = int((datetime.now(UTC) - crawl.started_on).total_seconds() * 1000)
            except EntityNotFound:
                pass
        return convert.crawler_to_proto(crawler, elapsed)

    def CreateCrawler(
        self, request: api.CreateCrawlerRequest, context: Ctx
    ) -> api.CreateCrawlerResponse:
        account = self._account()
        value = convert.definition(request, self._local)
        self._check_classifiers(account, list(request.classifiers))
        self._roles.check(request.role)
        self._store.create_crawler(
            account, request.name, value, dict(request.tags), next_fire(request.schedule)
        )
        self._runner.wake()
        return api.CreateCrawlerResponse()

    def GetCrawler(self, request: api.GetCrawlerRequest, context: Ctx) -> api.GetCrawlerResponse:
        crawler = self._store.get_crawler(self._account(), request.name)
        return api.GetCrawlerResponse(crawler=self._to_proto(crawler))

    def GetCrawlers(self, request: api.GetCrawlersRequest, context: Ctx) -> api.GetCrawlersResponse:
        page = self._store.get_crawlers(self._account(), _page(request))
        return api.GetCrawlersResponse(
            crawlers=[self._to_proto(c) for c in page.items], next_token=page.next_token
        )

    def BatchGetCrawlers(
        self, request: api.BatchGetCrawlersRequest, context: Ctx
    ) -> api.BatchGetCrawlersResponse:
        if len(request.crawler_names) > MAX_BATCH_GET:
            raise InvalidInput(f"at most {MAX_BATCH_GET} crawler names per call")
        names = [crawler_name(n) for n in request.crawler_names]
        found = {c.name: c for c in self._store.find_crawlers(self._account(), names)}
        return api.BatchGetCrawlersResponse(
            crawlers=[self._to_proto(found[n]) for n in names if n in found],
            crawlers_not_found=[n for n in names if n not in found],
        )

    def ListCrawlers(
        self, request: api.ListCrawlersRequest, context: Ctx
    ) -> api.ListCrawlersResponse:
        page = self._store.get_crawlers(self._account(), _page(request), dict(request.tags))
        return api.ListCrawlersResponse(
            crawler_names=[c.name for c in page.items], next_token=page.next_token
        )

    def UpdateCrawler(
        self, request: api.UpdateCrawlerRequest, context: Ctx
    ) -> api.UpdateCrawlerResponse:
        account = self._account()
        current = self._store.get_crawler(account, request.name)
        value = convert.updated(current.definition, request, self._local)
        self._check_classifiers(account, list(value.get("classifiers", [])))
        self._roles.check(value.get("role", ""))
        self._store.update_crawler(
            account, request.name, value, next_fire(value.get("schedule", ""))
        )
        self._runner.wake()
        return api.UpdateCrawlerResponse()

    def DeleteCrawler(
        self, request: api.DeleteCrawlerRequest, context: Ctx
    ) -> api.DeleteCrawlerResponse:
        self._store.delete_crawler(self._account(), request.name)
        return api.DeleteCrawlerResponse()

    def StartCrawler(
        self, request: api.StartCrawlerRequest, context: Ctx
    ) -> api.StartCrawlerResponse:
        self._runner.start_crawl(self._account(), request.name)
        return api.StartCrawlerResponse()

    def StopCrawler(self, request: api.StopCrawlerRequest, context: Ctx) -> api.StopCrawlerResponse:
        self._runner.stop_crawl(self._account(), request.name)
        return api.StopCrawlerResponse()

    def GetCrawlerMetrics(
        self, request: api.GetCrawlerMetricsRequest, context: Ctx
    ) -> api.GetCrawlerMetricsResponse:
        account = self._account()
        if request.crawler_name_list:
            names = [crawler_name(n) for n in request.crawler_name_list]
            crawlers = sorted(self._store.find_crawlers(account, names), key=lambda c: c.name)
            token = ""
        else:
            page = self._store.get_crawlers(account, _page(request))  # type: ignore[arg-type]
            crawlers, token = list(page.items), page.next_token
        out = api.GetCrawlerMetricsResponse(next_token=token)
        for crawler in crawlers:
            history = self._store.crawl_history(account, crawler.name)
            finished = [c for c in history if c.state == CrawlState.COMPLETED and c.ended_on]
            runtimes = [(c.ended_on - c.started_on).total_seconds() for c in finished]  # type: ignore[operator]
            metrics = out.crawler_metrics_list.add(crawler_name=crawler.name)
            if runtimes:
                metrics.last_runtime_seconds = runtimes[0]
                metrics.median_runtime_seconds = statistics.median(runtimes)
            if finished:
                summary = finished[0].summary
                metrics.tables_created = int(summary.get("tables_created", 0))
                metrics.tables_updated = int(summary.get("tables_updated", 0))
                metrics.tables_deleted = int(summary.get("tables_deleted", 0))
            running = [c for c in history if c.state == CrawlState.RUNNING]
            if running:
                crawl = running[0]
                metrics.files_total = crawl.files_total
                metrics.files_done = crawl.files_done
                metrics.still_estimating = crawl.files_total == 0
                if crawl.files_done and crawl.files_total:
                    spent = (datetime.now(UTC) - crawl.started_on).total_seconds()
                    rate = crawl.files_done / max(spent, 1e-3)
                    metrics.time_left_seconds = (crawl.files_total - crawl.files_done) / rate
        return out

    def ListCrawls(self, request: api.ListCrawlsRequest, context: Ctx) -> api.ListCrawlsResponse:
        page = self._store.list_crawls(
            self._account(),
            request.crawler_name,
            PageRequest(max_results=request.max_results, next_token=request.next_token),
        )
        crawls = [convert.crawl_to_proto(c) for c in page.items]
        kept = [c for c in crawls if all(_matches(c, f) for f in request.filters)]
        return api.ListCrawlsResponse(crawls=kept, next_token=page.next_token)

    def StartCrawlerSchedule(
        self, request: api.StartCrawlerScheduleRequest, context: Ctx
    ) -> api.StartCrawlerScheduleResponse:
        account = self._account()
        crawler = self._store.get_crawler(account, request.crawler_name)
        if not crawler.schedule:
            raise NoSchedule(f"crawler {crawler.name} has no schedule")
        if crawler.schedule_state == ScheduleState.SCHEDULED:
            raise SchedulerRunning(f"crawler {crawler.name}'s schedule is already on")
        self._store.set_schedule(account, crawler.name, True, next_fire(crawler.schedule))
        self._runner.wake()
        return api.StartCrawlerScheduleResponse()

    def StopCrawlerSchedule(
        self, request: api.StopCrawlerScheduleRequest, context: Ctx
    ) -> api.StopCrawlerScheduleResponse:
        account = self._account()
        crawler = self._store.get_crawler(account, request.crawler_name)
        if crawler.schedule_state != ScheduleState.SCHEDULED:
            raise SchedulerNotRunning(f"crawler {crawler.name}'s schedule is not on")
        self._store.set_schedule(account, crawler.name, False, None)
        return api.StopCrawlerScheduleResponse()

    def UpdateCrawlerSchedule(
        self, request: api.UpdateCrawlerScheduleRequest, context: Ctx
    ) -> api.UpdateCrawlerScheduleResponse:
        account = self._account()
        crawler = self._store.get_crawler(account, request.crawler_name)
        convert.checked_schedule(request.schedule)
        value = dict(crawler.definition, schedule=request.schedule)
        self._store.update_crawler(account, crawler.name, value, next_fire(request.schedule))
        self._runner.wake()
        return api.UpdateCrawlerScheduleResponse()

    def CreateClassifier(
        self, request: api.CreateClassifierRequest, context: Ctx
    ) -> api.CreateClassifierResponse:
        kind, name, value = convert.classifier_input(request)
        self._store.create_classifier(self._account(), name, kind, value)
        return api.CreateClassifierResponse()

    def GetClassifier(
        self, request: api.GetClassifierRequest, context: Ctx
    ) -> api.GetClassifierResponse:
        classifier = self._store.get_classifier(self._account(), request.name)
        return api.GetClassifierResponse(classifier=convert.classifier_to_proto(classifier))

    def GetClassifiers(
        self, request: api.GetClassifiersRequest, context: Ctx
    ) -> api.GetClassifiersResponse:
        page = self._store.get_classifiers(
            self._account(),
            PageRequest(max_results=request.max_results, next_token=request.next_token),
        )
        return api.GetClassifiersResponse(
            classifiers=[convert.classifier_to_proto(c) for c in page.items],
            next_token=page.next_token,
        )

    def UpdateClassifier(
        self, request: api.UpdateClassifierRequest, context: Ctx
    ) -> api.UpdateClassifierResponse:
        account = self._account()
        kind, name, value = convert.classifier_input(request)
        current = self._store.get_classifier(account, name)
        merged = {**current.definition, **{k: v for k, v in value.items() if v not in ("", [])}}
        self._store.update_classifier(account, name, kind, merged)
        return api.UpdateClassifierResponse()

    def DeleteClassifier(
        self, request: api.DeleteClassifierRequest, context: Ctx
    ) -> api.DeleteClassifierResponse:
        self._store.delete_classifier(self._account(), request.name)
        return api.DeleteClassifierResponse()


def _matches(crawl: api.CrawlerHistory, f: api.CrawlsFilter) -> bool:
    field = api.FieldName.Name(f.field_name).removeprefix("FIELD_NAME_")
    op = api.FilterOperator.Name(f.filter_operator).removeprefix("FILTER_OPERATOR_")
    if field == "CRAWL_ID":
        ours, theirs = crawl.crawl_id, f.field_value
    elif field == "STATE":
        ours = api.CrawlState.Name(crawl.state).removeprefix("CRAWL_STATE_")
        theirs = f.field_value.upper()
    elif field in ("START_TIME", "END_TIME"):
        stamp = crawl.start_time if field == "START_TIME" else crawl.end_time
        ours = stamp.ToDatetime(tzinfo=UTC).timestamp()  # type: ignore[assignment]
        theirs = _when(f.field_value)  # type: ignore[assignment]
    elif field == "DPU_HOUR":
        ours, theirs = crawl.dpu_hour, float(f.field_value or 0)  # type: ignore[assignment]
    else:
        return True
    compare = {
        "EQ": lambda a, b: a == b,
        "NE": lambda a, b: a != b,
        "GT": lambda a, b: a > b,
        "GE": lambda a, b: a >= b,
        "LT": lambda a, b: a < b,
        "LE": lambda a, b: a <= b,
    }.get(op)
    if compare is None:
        raise InvalidInput("a crawls filter needs a filter_operator")
    return bool(compare(ours, theirs))


def _when(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise InvalidInput(f"{value!r} is not a time (ISO 8601 or epoch seconds)") from None
