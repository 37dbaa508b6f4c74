"""The sandbox as one object: state, limits, faults, webhooks and the platforms, plus request dispatch."""

from __future__ import annotations

import logging
import os
import random
import time

from sandbox.control import ControlApi
from sandbox.exchange import ApiError, Faulted, Invalid, RateLimited, Request, Response
from sandbox.faults import Faults
from sandbox.platforms import build_platforms, platform_classes
from sandbox.ratelimit import SlidingWindowLimiter, default_limits
from sandbox.state import Store
from sandbox.webhooks import DEFAULT_BACKOFF, WebhookDispatcher
from sandbox.xml import SchemaLibrary

log = logging.getLogger(__name__)

BOOKING_FALLBACK_SECONDS = 30 * 60


class Sandbox:
    def __init__(
        self,
        callback_base: str,
        reference_dir: str | os.PathLike | None = None,
        *,
        rate_limits: dict[str, tuple[int, float]] | None = None,
        token_ttl: float = 3600,
        webhook_backoff: tuple[float, ...] = DEFAULT_BACKOFF,
        webhook_history: int = 100,
        fallback_seconds: float = BOOKING_FALLBACK_SECONDS,
    ):
        self.callback_base = callback_base.rstrip("/")
        classes = platform_classes()
        self.store = Store(cls.slug for cls in classes)
        self.schemas = SchemaLibrary(reference_dir)
        self.limiter = SlidingWindowLimiter({**default_limits(classes), **(rate_limits or {})})
        self.faults: dict[str, Faults] = {}
        self.random = random.Random()
        self.token_ttl = token_ttl
        self.fallback_seconds = fallback_seconds
        self.webhooks = WebhookDispatcher(
            self._count_delivery, backoff=webhook_backoff, history=webhook_history, lost=self._webhooks_lost
        )
        self.platforms = {platform.slug: platform for platform in build_platforms(self, classes)}
        self.control = ControlApi(self)
        if not self.schemas.available:
            self.schemas.get("")  # prints the one warning at start-up

    def dispatch(self, req: Request) -> Response:
        head, _, rest = req.path.lstrip("/").partition("/")
        if head in ("_control", "_state"):
            return self.control.handle(head, rest, req)
        platform = self.platforms.get(head)
        if platform is None:
            return Response.json(404, {"error": "not_found", "error_message": f"no platform {head!r}"})
        found, params = platform.match(req.method, "/" + rest)
        if found is None:
            return platform.render_error(req, ApiError(f"no endpoint {req.method} {req.path}", status=404))
        req.endpoint = found.name
        with self.store.lock:
            self.store[head].stats.requests[f"{req.method} {found.name}"] += 1
        faults = self.faults.get(head) if found.faultable else None
        if faults and not faults.applies_to(found.name):
            faults = None
        counted = None  # the account whose rate-limit slot this request already took
        if faults and faults.latency_ms:
            if found.protected and not faults.down:
                # A platform counts a request when it arrives, however long it then takes to answer: counted
                # after the delay, a request the client gave up on landed in a later window than the
                # client's own limiter had put it, and read as a violation.
                try:
                    counted = platform.authenticate(req)
                    self._take_slot(head, counted)
                except ApiError as error:
                    return self._error_response(platform, req, error)
            time.sleep(faults.latency_ms / 1000)
        if faults and faults.down:
            return Response(503)
        try:
            if faults and (status := faults.error_status(self.random)):
                raise Faulted(status)
            account = counted or (platform.authenticate(req) if found.protected else "anonymous")
            if found.protected and counted is None:
                self._take_slot(head, account)
            return found.handler(req, account, **params)
        except ApiError as error:
            return self._error_response(platform, req, error)

    def reset(self) -> None:
        self.store.reset()
        self.limiter.reset()
        self.faults.clear()
        self.webhooks.clear()
        for platform in self.platforms.values():
            platform.reset()

    def close(self) -> None:
        self.webhooks.close()

    def _take_slot(self, slug: str, account: str) -> None:
        retry_after = self.limiter.hit(slug, account)
        if retry_after is not None:
            raise RateLimited(retry_after)

    def _error_response(self, platform, req: Request, error: ApiError) -> Response:
        if isinstance(error, Invalid):
            self.store.record_invalid(platform.slug, error.message)
        response = platform.render_error(req, error)
        if isinstance(error, RateLimited):
            with self.store.lock:
                self.store[platform.slug].stats.rate_limit_violations += 1
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    def _webhooks_lost(self, slug: str) -> bool:
        faults = self.faults.get(slug)
        return faults is not None and faults.webhooks_lost

    def _count_delivery(self, slug: str, ok: bool) -> None:
        with self.store.lock:
            stats = self.store[slug].stats
            if ok:
                stats.webhooks_sent += 1
            else:
                stats.webhooks_failed += 1
