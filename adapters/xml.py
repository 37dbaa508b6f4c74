"""Safe XML for the adapters that speak it (Booking.com, Expedia, Google).

Every inbound document (a platform's answer or a webhook body) goes through ``parse``: lxml with entity
resolution, DTD loading and network access off, no huge trees, and any DOCTYPE or ENTITY declaration
refused outright, so XXE and "billion laughs" payloads fail before anything is expanded or fetched.
Outbound documents are built with lxml's element API (``element``/``sub``), never by pasting strings.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from lxml import etree

# InvalidUpdateError lives beside the plain data it guards (JSON adapters raise it too); kept importable here.
from adapters.base import (  # noqa: F401
    InvalidUpdateError,
    PlatformAPIError,
    PriceRange,
    WebhookPayloadError,
    zone_named,
)

MAX_BYTES = 5 * 1024 * 1024

# Cheap first line of defence; the parsed tree is checked for a DTD as well (another encoding could
# hide these bytes from the regex, never from the parser).
_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class UnsafeXMLError(WebhookPayloadError):
    """The document declares a DTD or entities, or is too large: refused without being expanded."""


class XMLSyntaxError(WebhookPayloadError):
    """The document is not well-formed XML."""


def _parser() -> etree.XMLParser:
    # A new parser per call: lxml parsers are not thread-safe.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse(body: bytes | str) -> etree._Element:
    """Parse untrusted XML. Raises ``UnsafeXMLError`` or ``XMLSyntaxError`` (both ``WebhookPayloadError``)."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    if len(body) > MAX_BYTES:
        raise UnsafeXMLError(f"XML body larger than {MAX_BYTES} bytes")
    if _DECLARATION.search(body):
        raise UnsafeXMLError("XML with a DOCTYPE or ENTITY declaration is refused")
    try:
        root = etree.fromstring(body, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise XMLSyntaxError(f"malformed XML: {exc}") from None
    if root is None:
        raise XMLSyntaxError("empty XML document")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise UnsafeXMLError("XML with a DOCTYPE or ENTITY declaration is refused")
    if any(isinstance(node, etree._Entity) for node in root.iter()):
        raise UnsafeXMLError("XML with entity references is refused")
    return root


def parse_answer(body: bytes, *, platform: str, endpoint: str) -> etree._Element:
    """Parse a platform's answer; an unreadable one is a (transient) ``PlatformAPIError``."""
    try:
        return parse(body)
    except WebhookPayloadError as exc:
        raise PlatformAPIError(f"{platform} {endpoint}: unreadable answer: {exc}", permanent=False) from None


# --- namespaces and lenient lookups -----------------------------------------------------------


def qname(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}" if ns else tag


def local(el: etree._Element) -> str:
    """The tag without its namespace."""
    return etree.QName(el).localname


def children(el: etree._Element | None, name: str) -> list[etree._Element]:
    """Direct children with this local name, whatever their namespace."""
    if el is None:
        return []
    return [c for c in el if isinstance(c.tag, str) and local(c) == name]


def child(el: etree._Element | None, name: str) -> etree._Element | None:
    found = children(el, name)
    return found[0] if found else None


def descendants(el: etree._Element | None, name: str) -> list[etree._Element]:
    """Descendants with this local name, whatever their namespace (inbound parsing is lenient)."""
    if el is None:
        return []
    return [d for d in el.iter() if isinstance(d.tag, str) and local(d) == name]


def first(el: etree._Element | None, name: str) -> etree._Element | None:
    found = descendants(el, name)
    return found[0] if found else None


def path(el: etree._Element | None, *names: str) -> etree._Element | None:
    """Follow direct children by local name: ``path(res, "ResGlobalInfo", "Total")``."""
    for name in names:
        el = child(el, name)
    return el


def text(el: etree._Element | None) -> str:
    return (el.text or "").strip() if el is not None else ""


def attr(el: etree._Element | None, name: str) -> str:
    return (el.get(name) or "").strip() if el is not None else ""


# --- building ---------------------------------------------------------------------------------


def element(ns: str, tag: str, attrs: dict[str, str] | None = None, text_value: str | None = None):
    """A root element in namespace ``ns`` (the default namespace of the document)."""
    el = etree.Element(qname(ns, tag), nsmap={None: ns} if ns else None)
    _fill(el, attrs, text_value)
    return el


def sub(parent: etree._Element, tag: str, attrs: dict[str, str] | None = None, text_value: str | None = None):
    """A child in its parent's namespace."""
    ns = etree.QName(parent).namespace or ""
    el = etree.SubElement(parent, qname(ns, tag))
    _fill(el, attrs, text_value)
    return el


def _fill(el, attrs, text_value):
    for key, value in (attrs or {}).items():
        if value is not None:
            el.set(key, value)
    if text_value is not None:
        el.text = text_value


def to_bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# --- values -----------------------------------------------------------------------------------


def price_text(item: PriceRange) -> str:
    """The range's price with exactly its currency's decimals (``"12000"`` JPY, ``"120.00"`` EUR);
    refuses a non-positive price or one with more decimals than the currency has."""
    return item.price_on_wire()


def currency_code(value: str) -> str:
    if not (isinstance(value, str) and len(value) == 3 and value.isalpha() and value.isupper()):
        raise InvalidUpdateError(f"currency must be an ISO 4217 code, got {value!r}")
    return value


def decimal_or_none(value: str) -> Decimal | None:
    if not value:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


def is_instant(value: str) -> bool:
    """An xs:dateTime in UTC (``Z``) or with an offset: a moment, whose date depends on where it is read."""
    try:
        return len(value) > 10 and value[10] in "Tt " and dt.datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def date_or_none(value: str, zone: str = "") -> dt.date | None:
    """The date of an xs:date or xs:dateTime, None when unreadable. A plain date (with or without a zone
    suffix) and a date-time without offset are dates as written. An instant (``is_instant``) is the
    property's local date in ``zone``, its IANA name: its own date may be a day off it. Without ``zone``
    an instant is unreadable, not guessed."""
    if not value:
        return None
    try:
        if not is_instant(value):
            return dt.date.fromisoformat(value[:10])
        return dt.datetime.fromisoformat(value).astimezone(zone_named(zone)).date() if zone else None
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 read in a zone past its edge
        return None


def utc_version(value: str) -> str:
    """An ISO timestamp (any offset, naive = UTC) as a UTC string that sorts chronologically.

    Always microseconds and ``+00:00``, so two versions compare as strings. Unparseable input is
    returned unchanged rather than lost.
    """
    if not value:
        return ""
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")
