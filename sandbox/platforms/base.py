"""What every simulated platform offers the dispatcher: routes, authentication, its error format."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING
from urllib.parse import unquote

from sandbox.exchange import ApiError, Invalid, Request, Response
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
    """One simulated platform. Its module in `sandbox/platforms/` is the only place the sandbox knows it:
    `build_platforms` discovers every subclass that declares a `slug`, and the store, the rate limits,
    guest bookings, the iCal export and `/_state/<slug>/stats` read these declarations."""

    slug = ""  # the first path segment of its API, its `/_control/<slug>` and `/_state/<slug>`
    webhook_path: str | None = None
    rate_limit: tuple[int, float] | None = None  # (requests, window in seconds) per account; None: unlimited
    guest_bookings = False  # guests book, modify and cancel on it through `/_control/<slug>/reservations`
    # The stats keys ("<METHOD> <route name>") of its availability and its price writes, published in
    # `/_state/<slug>/stats` as "writes"; one request may be both.
    availability_write: str | None = None
    pricing_write: str | None = None
    # The head of its iCal export (`/ical/<slug>/<listing>.ics`): PRODID and friends, the SUMMARY of a
    # booked and of a closed run, and the UID domain. None: a generic export.
    ical_style: dict | None = None

    def __init__(self, app: Sandbox):
        self.app = app
        self.routes = self.build_routes()
        names = {f"{r.method} {r.name}" for r in self.routes}
        unknown = sorted(key for key in self.writes().values() if key not in names)
        if unknown:
            raise TypeError(f"{type(self).__name__} declares writes {unknown} that are none of its routes")

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

    def writes(self) -> dict[str, str]:
        declared = {"availability": self.availability_write, "pricing": self.pricing_write}
        return {kind: key for kind, key in declared.items() if key}

    # the control API: listings and guest bookings (`sandbox.control`, `sandbox.bookings`)

    def refuse_long_min_stays(self, changes: Iterable[dict]) -> None:
        """The ``longest_min_stay`` fault: a write setting a longer minimum stay is refused whole."""
        faults = self.app.faults.get(self.slug)
        longest = faults.longest_min_stay if faults is not None else None
        if longest is None:
            return
        for change in changes:
            if (change.get("min_stay") or 1) > longest:
                raise Invalid(f"minimum stay {change['min_stay']} is over this listing's longest, {longest}")

    def check_listing_id(self, listing_id: str) -> None:
        """Refuse (raise Invalid) a listing id this platform could not have; any id is fine by default."""

    def check_stay(self, check_in: date, check_out: date) -> None:
        """Refuse (raise Invalid) a guest stay the platform cannot carry; any length is fine by default."""

    def new_reservation_id(self, number: int) -> str:
        """The id of the `number`th guest booking on this platform, in its own format."""
        return f"{self.slug}-{secrets.token_hex(6)}"

    def reservation_state(self, reservation: Reservation) -> dict:
        """The reservation as `/_state/<slug>/reservations` lists it, with the platform's own fields."""
        return reservation.as_state()

    def ical_description(self, reservation: Reservation) -> str | None:
        """The DESCRIPTION of the booking's event in its iCal export; None: no DESCRIPTION."""
        return None

    def webhook_url(self) -> str:
        return f"{self.app.callback_base}/webhooks/{self.webhook_path}"
