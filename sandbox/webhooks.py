"""Asynchronous webhook delivery: a bounded queue, worker threads, retries with backoff, a replay log."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

log = logging.getLogger(__name__)

# Waits between the 5 tries: the last try goes out about 30 s after the first.
DEFAULT_BACKOFF = (2.0, 4.0, 8.0, 16.0)


@dataclass(frozen=True)
class Webhook:
    """One message exactly as sent: replaying it re-sends the same bytes and headers."""

    slug: str
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass(order=True)
class _Attempt:
    due: float
    seq: int
    webhook: Webhook = field(compare=False)
    tries: int = field(compare=False, default=0)


class WebhookDispatcher:
    """Delivers webhooks off the request thread; `on_result(slug, ok)` is called after every try."""

    def __init__(
        self,
        on_result: Callable[[str, bool], None],
        *,
        backoff: tuple[float, ...] = DEFAULT_BACKOFF,
        history: int = 100,
        max_pending: int = 10_000,
        workers: int = 4,
        timeout: float = 5.0,
        lost: Callable[[str], bool] = lambda slug: False,
    ):
        self.on_result = on_result
        self.lost = lost  # the ``webhooks_lost`` fault: sent (logged, replayable) but never delivered
        self.backoff = tuple(backoff)
        self.max_pending = max_pending
        self.timeout = timeout
        self._heap: list[_Attempt] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopping = False
        self._in_flight = 0
        self._history_size = history
        self._sent: dict[str, deque[Webhook]] = {}
        self._threads = [threading.Thread(target=self._work, name=f"webhook-{i}", daemon=True) for i in range(workers)]
        for thread in self._threads:
            thread.start()

    def send(self, webhook: Webhook, *, record: bool = True) -> bool:
        """Queue a webhook; returns False (and counts a failure) when the queue is full."""
        lost = False
        with self._cond:
            if len(self._heap) >= self.max_pending:
                log.error("webhook queue full, dropping a %s webhook", webhook.slug)
                full = True
            else:
                full = False
                if record:
                    self._sent.setdefault(webhook.slug, deque(maxlen=self._history_size)).append(webhook)
                lost = self.lost(webhook.slug)
                if not lost:
                    heapq.heappush(self._heap, _Attempt(time.monotonic(), next(self._seq), webhook))
                    self._cond.notify_all()
        if full or lost:
            self.on_result(webhook.slug, False)
        return not full

    def replay(self, slug: str, count: int) -> int:
        with self._cond:
            last = list(self._sent.get(slug, ()))[-count:] if count > 0 else []
        for webhook in last:
            self.send(webhook, record=False)
        return len(last)

    def recent(self, slug: str) -> list[Webhook]:
        with self._cond:
            return list(self._sent.get(slug, ()))

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until nothing is queued or being delivered (retries included); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._heap or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def clear(self) -> None:
        with self._cond:
            self._heap.clear()
            self._sent.clear()

    def close(self, timeout: float = 2.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    def _next(self) -> _Attempt | None:
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                if self._heap and self._heap[0].due <= now:
                    self._in_flight += 1
                    return heapq.heappop(self._heap)
                self._cond.wait(self._heap[0].due - now if self._heap else None)
            return None

    def _work(self) -> None:
        session = requests.Session()  # one per thread: sessions are not documented as thread-safe
        session.trust_env = False  # callbacks are local; a proxy from the environment would swallow them
        while (attempt := self._next()) is not None:
            ok = self._deliver(session, attempt.webhook)
            self.on_result(attempt.webhook.slug, ok)
            if not ok and attempt.tries < len(self.backoff):
                self._retry(attempt)
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()
        session.close()

    def _retry(self, attempt: _Attempt) -> None:
        delay = self.backoff[attempt.tries]
        retry = _Attempt(time.monotonic() + delay, next(self._seq), attempt.webhook, attempt.tries + 1)
        with self._cond:
            heapq.heappush(self._heap, retry)
            self._cond.notify_all()

    def _deliver(self, session: requests.Session, webhook: Webhook) -> bool:
        try:
            answer = session.post(webhook.url, data=webhook.body, headers=webhook.headers, timeout=self.timeout)
        except requests.RequestException as exc:
            log.info("webhook to %s failed: %s", webhook.url, exc)
            return False
        if not 200 <= answer.status_code < 300:
            log.info("webhook to %s answered %s", webhook.url, answer.status_code)
            return False
        return True
