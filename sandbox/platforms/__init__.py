"""The simulated platforms, one module each."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandbox.app import Sandbox
    from sandbox.platforms.base import Platform


def build_platforms(app: Sandbox) -> list[Platform]:
    from sandbox.platforms.airbnb import Airbnb
    from sandbox.platforms.booking_com import BookingCom
    from sandbox.platforms.expedia import Expedia
    from sandbox.platforms.fewo_direkt import FewoDirekt
    from sandbox.platforms.google import Google
    from sandbox.platforms.ical import Ical

    return [cls(app) for cls in (Airbnb, BookingCom, Expedia, FewoDirekt, Google, Ical)]
