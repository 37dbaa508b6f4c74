"""Domain errors of the PMS core. Bad input raises django's ``ValidationError`` with field names."""

from __future__ import annotations


class DomainError(Exception):
    """A request that is well-formed but not allowed by the domain."""


class BookingClash(DomainError):
    """The nights asked for overlap a confirmed stay or block on the same unit."""

    def __init__(self, *, unit_id: int, check_in, check_out, clash=None):
        self.unit_id = unit_id
        self.check_in = check_in
        self.check_out = check_out
        self.clash = clash
        where = f" with booking {clash.pk} ({clash.check_in}..{clash.check_out}, {clash.source})" if clash else ""
        super().__init__(f"unit {unit_id} is not free for {check_in}..{check_out}: clashes{where}")

    def describe(self) -> dict:
        if self.clash is None:
            return {"unit": self.unit_id}
        return {
            "booking": self.clash.pk,
            "kind": self.clash.kind,
            "check_in": self.clash.check_in.isoformat(),
            "check_out": self.clash.check_out.isoformat(),
            "source": self.clash.source,
        }
