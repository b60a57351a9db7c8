"""The crawlers part of the SDK: crawlers that fill the catalog from data, their crawls, and
custom classifiers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import grpc

from sluice.crawlers.v1 import crawlers_pb2 as api
from sluice.crawlers.v1 import crawlers_pb2_grpc
from sluice.sdk._calls import ServiceCalls
from sluice.sdk.config import ClientOptions
from sluice.sdk.errors import DeadlineExceeded
from sluice.sdk.messages import to_message

CrawlerLike = api.CreateCrawlerRequest | Mapping[str, Any]
CrawlerUpdateLike = api.UpdateCrawlerRequest | Mapping[str, Any]
ClassifierLike = api.CreateClassifierRequest | Mapping[str, Any]


def state_name(value: int) -> str:
    """The Glue name of a crawler state (READY, RUNNING, STOPPING)."""
    return api.CrawlerState.Name(value).removeprefix("CRAWLER_STATE_")  # type: ignore[arg-type]


def crawl_state_name(value: int) -> str:
    """The Glue name of a crawl state (RUNNING, COMPLETED, FAILED, STOPPED)."""
    return api.CrawlState.Name(value).removeprefix("CRAWL_STATE_")  # type: ignore[arg-type]


class CrawlWaitTimeout(DeadlineExceeded):
    """A crawl was still running when `wait` stopped waiting (the crawl itself goes on)."""


class CrawlersClient(ServiceCalls):
    """Sluice crawlers and classifiers, as Glue's. Obtain one from `Client.crawlers`.

    Example:
        >>> client.crawlers.create({"name": "sales", "role": "crawler", "database_name": "raw",
        ...     "targets": {"s3_targets": [{"path": "file:///data/sales"}]}})  # doctest: +SKIP
        >>> client.crawlers.start("sales"); client.crawlers.wait("sales")  # doctest: +SKIP
    """

    def __init__(self, channel: grpc.Channel, options: ClientOptions, address: str) -> None:
        super().__init__(options, address)
        self._stub = crawlers_pb2_grpc.CrawlerServiceStub(channel)

    def create(self, crawler: CrawlerLike) -> None:
        """Creates a crawler.

        Raises:
            AlreadyExists: A crawler of that name exists.
            InvalidInput: A field is not valid (no target, a bad cron expression, ...).
            AccessDenied: The caller may not pass the crawler's role (sluice:PassRole).
        """
        request = to_message(crawler, api.CreateCrawlerRequest, what="crawler")
        self._call(self._stub.CreateCrawler, request)

    def get(self, name: str) -> api.Crawler:
        response: api.GetCrawlerResponse = self._call(
            self._stub.GetCrawler, api.GetCrawlerRequest(name=name)
        )
        return response.crawler

    def get_many(self, *, page_size: int | None = None) -> Iterator[api.Crawler]:
        """Every crawler, by name."""
        request = api.GetCrawlersRequest(max_results=page_size or 0)
        return self._paginate(self._stub.GetCrawlers, request, "crawlers")

    def list(
        self, *, tags: Mapping[str, str] | None = None, page_size: int | None = None
    ) -> Iterator[str]:
        """The crawlers' names (those with every one of tags), by name."""
        request = api.ListCrawlersRequest(tags=dict(tags or {}), max_results=page_size or 0)
        return self._paginate(self._stub.ListCrawlers, request, "crawler_names")

    def batch_get(self, names: Sequence[str]) -> api.BatchGetCrawlersResponse:
        response: api.BatchGetCrawlersResponse = self._call(
            self._stub.BatchGetCrawlers, api.BatchGetCrawlersRequest(crawler_names=list(names))
        )
        return response

    def update(self, update: CrawlerUpdateLike) -> None:
        """Changes a crawler: the fields given replace its own (not while it runs)."""
        request = to_message(update, api.UpdateCrawlerRequest, what="update")
        self._call(self._stub.UpdateCrawler, request)

    def delete(self, name: str) -> None:
        self._call(self._stub.DeleteCrawler, api.DeleteCrawlerRequest(name=name))

    def start(self, name: str) -> None:
        """Starts a crawl (CrawlerRunning if one runs)."""
        self._call(self._stub.StartCrawler, api.StartCrawlerRequest(name=name))

    def stop(self, name: str) -> None:
        """Asks the running crawl to stop."""
        self._call(self._stub.StopCrawler, api.StopCrawlerRequest(name=name))

    def metrics(self, names: Sequence[str] = ()) -> list[api.CrawlerMetrics]:
        """The metrics of the crawlers named (every crawler when none)."""
        request = api.GetCrawlerMetricsRequest(crawler_name_list=list(names))
        return list(self._paginate(self._stub.GetCrawlerMetrics, request, "crawler_metrics_list"))

    def crawls(self, name: str, *, page_size: int | None = None) -> Iterator[api.CrawlerHistory]:
        """A crawler's crawls, newest first."""
        request = api.ListCrawlsRequest(crawler_name=name, max_results=page_size or 0)
        return self._paginate(self._stub.ListCrawls, request, "crawls")

    def wait(
        self,
        name: str,
        *,
        timeout_s: float | None = None,
        poll_s: float = 0.5,
        on_progress: Callable[[api.CrawlerMetrics], None] | None = None,
    ) -> api.CrawlerHistory:
        """Waits until the crawler is READY again; its last crawl.

        Raises:
            CrawlWaitTimeout: timeout_s passed first.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            crawler = self.get(name)
            if on_progress is not None:
                found = self.metrics([name])
                if found:
                    on_progress(found[0])
            if crawler.state == api.CRAWLER_STATE_READY:
                latest = next(self.crawls(name, page_size=1), None)
                if latest is not None and latest.state != api.CRAWL_STATE_RUNNING:
                    return latest
            if deadline is not None and time.monotonic() >= deadline:
                raise CrawlWaitTimeout(f"crawler {name} is still {state_name(crawler.state)}")
            time.sleep(poll_s)

    def start_schedule(self, name: str) -> None:
        self._call(
            self._stub.StartCrawlerSchedule, api.StartCrawlerScheduleRequest(crawler_name=name)
        )

    def stop_schedule(self, name: str) -> None:
        self._call(
            self._stub.StopCrawlerSchedule, api.StopCrawlerScheduleRequest(crawler_name=name)
        )

    def update_schedule(self, name: str, schedule: str) -> None:
        self._call(
            self._stub.UpdateCrawlerSchedule,
            api.UpdateCrawlerScheduleRequest(crawler_name=name, schedule=schedule),
        )

    def create_classifier(self, classifier: ClassifierLike) -> None:
        """Creates a classifier: one of grok_classifier, xml_classifier, json_classifier,
        csv_classifier."""
        request = to_message(classifier, api.CreateClassifierRequest, what="classifier")
        self._call(self._stub.CreateClassifier, request)

    def get_classifier(self, name: str) -> api.Classifier:
        response: api.GetClassifierResponse = self._call(
            self._stub.GetClassifier, api.GetClassifierRequest(name=name)
        )
        return response.classifier

    def get_classifiers(self, *, page_size: int | None = None) -> Iterator[api.Classifier]:
        request = api.GetClassifiersRequest(max_results=page_size or 0)
        return self._paginate(self._stub.GetClassifiers, request, "classifiers")

    def update_classifier(self, classifier: ClassifierLike) -> None:
        request = to_message(classifier, api.UpdateClassifierRequest, what="classifier")
        self._call(self._stub.UpdateClassifier, request)

    def delete_classifier(self, name: str) -> None:
        self._call(self._stub.DeleteClassifier, api.DeleteClassifierRequest(name=name))


__all__ = [
    "ClassifierLike",
    "CrawlWaitTimeout",
    "CrawlerLike",
    "CrawlerUpdateLike",
    "CrawlersClient",
    "crawl_state_name",
    "state_name",
]
