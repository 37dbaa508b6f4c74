"""What every simulated platform offers the dispatcher: routes, authentication, its error format."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote

from sandbox.exchange import ApiError, Request, Response
from sandbox.state import PlatformState, Reservation

if TYPE_CHECKING:
    from sandbox.app import Sandbox


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern
    name: str  # the endpoint name used in stats
    handler: Callable[..., Response]
    protected: bool = True  # authenticated and rate limited
    faultable: bool = True


def route(method: str, template: str, name: str, handler: Callable[..., Response], **options) -> Route:
    """`template` is a path below the platform prefix, with `{param}` for one path segment."""
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return Route(method, re.compile(f"^{regex}$"), name, handler, **options)


class Platform:
    slug = ""
    webhook_path: str | None = None

    def __init__(self, app: Sandbox):
        self.app = app
        self.routes = self.build_routes()

    @property
    def state(self) -> PlatformState:
        return self.app.store[self.slug]

    def build_routes(self) -> list[Route]:
        return []

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        for candidate in self.routes:
            found = candidate.pattern.match(path)
            if found and candidate.method == method:
                return candidate, {k: unquote(v) for k, v in found.groupdict().items()}
        return None, {}

    def authenticate(self, req: Request) -> str:
        """The account making the request; raises Unauthorized."""
        return "anonymous"

    def render_error(self, req: Request, error: ApiError) -> Response:
        raise NotImplementedError

    def notify(self, reservation: Reservation, event: str) -> None:
        """Tell our side about a guest booking change (`event`: created, updated, cancelled)."""

    def reset(self) -> None:
        """Forget platform-specific state (tokens and the like)."""

    def webhook_url(self) -> str:
        return f"{self.app.callback_base}/webhooks/{self.webhook_path}"
