"""The notifier: a thread of its own that records run events and posts them to webhooks.

Each pass (every interval_s) records the events due (see SqlNotificationStore) and hands the
deliveries due to a small pool of sender threads, so a slow or dead receiver holds up neither
the pass nor the scheduler. A failed delivery is retried with exponential backoff (2 s, 4 s,
... capped at 10 minutes) and given up after max_attempts. Only the server that holds the
scheduler's lease runs passes (leader), so replicas do not all scan the runs table; were two to
pass at once, events are still recorded once and each delivery is claimed by one of them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from datetime import timedelta

from sluice.control_plane.jobs.notifications.store import Delivering, SqlNotificationStore
from sluice.control_plane.jobs.notifications.webhooks import AddressRule, post_event

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NotifierConfig:
    interval_s: float = 2.0
    max_attempts: int = 8
    first_retry_s: float = 2.0
    max_retry_s: float = 600.0
    # How long a claimed delivery is not due again (longer than one request may take).
    claim_s: float = 60.0
    request_timeout_s: float = 10.0
    senders: int = 2


class Notifier:
    def __init__(
        self,
        store: SqlNotificationStore,
        rule: AddressRule,
        *,
        leader: Callable[[], bool] = lambda: True,
        config: NotifierConfig | None = None,
    ) -> None:
        self._store = store
        self._rule = rule
        self._leader = leader
        self._config = config or NotifierConfig()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._senders = futures.ThreadPoolExecutor(
            max_workers=self._config.senders, thread_name_prefix="sluice-webhook"
        )
        self._sending: set[int] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="sluice-notifier", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._senders.shutdown(wait=False, cancel_futures=True)

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                if self._leader():
                    self.run_pass()
            except Exception:
                log.exception("notifier pass failed; retrying at the next one")
            self._wake.wait(self._config.interval_s)
            self._wake.clear()

    def run_pass(self) -> int:
        """Records due events and starts due deliveries; returns how many events it recorded."""
        recorded = self._store.record_due_events()
        for event in recorded:
            log.info(
                "run event",
                extra={"kind": str(event.kind), "run_id": event.run_id, "account": event.account},
            )
        for delivering in self._store.claim_deliveries(timedelta(seconds=self._config.claim_s)):
            with self._lock:
                if delivering.event.id in self._sending:
                    continue
                self._sending.add(delivering.event.id)
            self._senders.submit(self._send, delivering)
        return len(recorded)

    def _send(self, delivering: Delivering) -> None:
        event = delivering.event
        try:
            post_event(
                self._rule,
                delivering.url,
                delivering.secret,
                event,
                timeout_s=self._config.request_timeout_s,
            )
        except Exception as exc:
            attempts = event.attempts + 1
            retry = None
            if attempts < self._config.max_attempts:
                delay = self._config.first_retry_s * 2 ** (attempts - 1)
                retry = timedelta(seconds=min(delay, self._config.max_retry_s))
            log.warning(
                "webhook delivery failed",
                extra={"event_id": event.id, "attempt": attempts, "error": str(exc)[:200]},
            )
            self._store.delivery_failed(event.id, f"{type(exc).__name__}: {exc}", retry)
            if retry is not None:
                self._wake_after(retry.total_seconds())
        else:
            self._store.delivered(event.id)
        finally:
            with self._lock:
                self._sending.discard(event.id)

    def _wake_after(self, seconds: float) -> None:
        if seconds < self._config.interval_s:
            timer = threading.Timer(seconds, self._wake.set)
            timer.daemon = True
            timer.start()
