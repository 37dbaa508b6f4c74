"""Fuzzing every webhook URL with Hypothesis: no body and no header makes one answer 5xx.

Requests go through the real stack: Django's test ``Client``, the URL conf, the middleware, the real
signature checks, the real parsers. The URLs come from the URL conf and the platform registry (every
platform with ``Capability.WEBHOOKS``, at its ``webhook_path``), not from a list written here, so a
platform added later is fuzzed without anyone remembering to add it (and ``WIRES`` then has to learn
how to sign for it, or the coverage test fails), and so is a path no platform serves.

Two kinds of request per URL:
- unsigned (garbage or missing signature headers), which must be refused whatever the body;
- verified (HMAC with the configured secret, Expedia's credentials in the SOAP header, a Google JWT
  signed by a key in the served JWKS, nothing for Booking.com's ping), which is what gets a hostile body
  past the check and into the platform's parser.

Invariants for every request:
- the answer is never 5xx;
- a 4xx carries the project's JSON error shape ``{"error": code, "detail": reason}``;
- a 4xx stores no ``InboundEvent``, creates no ``Booking`` and enqueues nothing;
- a body that is invalid by construction (not JSON, nested too deep, a number out of range, invalid
  UTF-8, empty, too large, ...) gets a 4xx.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.conf import settings as django_settings
from django.urls import URLResolver, get_resolver, resolve
from hypothesis import HealthCheck, event, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st
from lxml import etree

from adapters.airbnb.signature import HEADER as AIRBNB_SIGNATURE_HEADER
from adapters.base import Capability
from adapters.fewo_direkt.signature import SIGNATURE_HEADER as FEWO_SIGNATURE_HEADER
from adapters.fewo_direkt.signature import TIMESTAMP_HEADER as FEWO_TIMESTAMP_HEADER
from adapters.registry import adapter_class, by_webhook_path, slugs
from channelmgr.inbound.webhooks import webhook_receive
from channelmgr.models import InboundEvent
from pms_core.models import Booking

from .conftest import airbnb_event, airbnb_headers, fewo_headers, queued
from .test_webhook_booking_com_ping import ping
from .test_webhook_expedia import notification as expedia_notification
from .test_webhook_google import bearer, certs, jwks, push, signing_key

pytestmark = pytest.mark.django_db(transaction=True)

# Google's push tests serve a JWKS (``certs``) holding ``signing_key``'s public half: reused here.
GOOGLE_FIXTURES = (certs, jwks, signing_key)

# About 580 requests in all (7 URLs x 40 unverified, 5 platforms x 60 verified): ~25 s on 2 cores.
FUZZ = fuzz_settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ_VERIFIED = fuzz_settings(FUZZ, max_examples=60)


# --- the URLs, from the URL conf and the registry ------------------------------------------------


def url_conf_webhook_routes() -> list[str]:
    """Every route of the URL conf under ``webhooks/``, as written (a pattern keeps its ``<...>``)."""
    routes: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
                continue
            route = prefix + str(pattern.pattern)
            if route.startswith("webhooks/"):
                routes.append("/" + route)

    walk(get_resolver().url_patterns, "")
    return routes


WEBHOOK_PLATFORMS = slugs(Capability.WEBHOOKS)
# Each webhook platform's URL: all of them share one route of the URL conf, the view picks the adapter.
PLATFORM_PATHS = {slug: f"/webhooks/{adapter_class(slug).webhook_path}" for slug in WEBHOOK_PLATFORMS}
# Every URL under ``/webhooks/`` -> the platform served there (None: a fixed route that is no platform's).
ROUTES: dict[str, str | None] = {
    **{route: None for route in url_conf_webhook_routes() if "<" not in route},
    **{path: slug for slug, path in PLATFORM_PATHS.items()},
}
# Matches the platforms' route but names no platform: every body has to be refused.
UNKNOWN_PATH = "/webhooks/no-such-platform"


# --- how a valid notification looks and how it is signed, per platform -------------------------

RAW = "\x00raw-json\x00"  # stands for JSON text json.dumps cannot write (1e999999, "\ud800")
DROP = object()  # a key to remove


def dumps(value, raw: str = "") -> bytes:
    return json.dumps(value).replace(json.dumps(RAW), raw).encode()


def google_body(value, raw: str = "") -> bytes:
    """The push envelope; ``message.data``, when it is not a string, is JSON-encoded and base64'd first."""
    message = value.get("message") if isinstance(value, dict) else None
    if isinstance(message, dict) and "data" in message and not isinstance(message["data"], str):
        data = base64.b64encode(dumps(message["data"], raw)).decode()
        value = {**value, "message": {**message, "data": data}}
    return dumps(value, raw)


def google_template() -> dict:
    envelope = json.loads(push())
    envelope["message"]["data"] = json.loads(base64.b64decode(envelope["message"]["data"]))
    return envelope


def fewo_template() -> dict:
    return {
        "eventId": "fw-evt-1",
        "eventType": "RESERVATION_CREATED",
        "reservationId": "FW-R-1",
        "listingId": "FW-1",
        "revision": 3,
        "timestamp": "2027-06-01T12:00:00Z",
    }


def expedia_cancel() -> bytes:
    """The notification turned into an ``OTA_CancelRQ`` with everything ``_cancellation`` reads."""
    root = etree.fromstring(expedia_notification(django_settings))
    payload = next(iter(root.iterfind("{*}Body/*")))
    ns = etree.QName(payload).namespace
    payload.tag = f"{{{ns}}}OTA_CancelRQ"
    for item in list(payload):
        payload.remove(item)
    etree.SubElement(payload, f"{{{ns}}}UniqueID", Type="14", ID="13357395")
    verification = etree.SubElement(payload, f"{{{ns}}}Verification")
    etree.SubElement(verification, f"{{{ns}}}ReservationTimeSpan", Start="2027-07-01", End="2027-07-04")
    etree.SubElement(verification, f"{{{ns}}}Vendor", CodeContext="HotelCode").text = "3546"
    etree.SubElement(verification, f"{{{ns}}}AssociatedQuantity", CodeContext="Guests", Quantity="2")
    name = etree.SubElement(verification, f"{{{ns}}}PersonName")
    etree.SubElement(name, f"{{{ns}}}GivenName").text = "Eva"
    return etree.tostring(root)


@dataclass(frozen=True)
class Wire:
    """``json_template``/``encode`` for JSON platforms, ``xml_templates`` for SOAP.

    ``sign(body, google_key)`` -> the headers that make the request pass verification; ``unsigned`` when
    the platform's webhook carries no proof at all (Booking.com's ping), so any body may be valid.
    """

    listing: str
    sign: Callable[[bytes, object], dict]
    unsigned: bool = False
    json_template: Callable[[], object] | None = None
    encode: Callable[..., bytes] = dumps
    xml_templates: tuple[Callable[[], bytes], ...] = field(default_factory=tuple)


WIRES = {
    "airbnb": Wire(
        "AIR-1", lambda body, key: airbnb_headers(body), json_template=lambda: json.loads(airbnb_event("FUZZ"))
    ),
    "booking_com": Wire("4711", lambda body, key: {}, unsigned=True, json_template=lambda: json.loads(ping())),
    "expedia": Wire(
        "3546",
        lambda body, key: {},  # the credentials are in the SOAP header, see ``xml_templates``
        xml_templates=(lambda: expedia_notification(django_settings), expedia_cancel),
    ),
    "fewo_direkt": Wire("FW-1", lambda body, key: fewo_headers(body), json_template=fewo_template),
    "google": Wire(
        "villa-9", lambda body, key: bearer(django_settings, key), json_template=google_template, encode=google_body
    ),
}


def meta_key(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


SIGNATURE_META_KEYS = [
    meta_key(name) for name in (AIRBNB_SIGNATURE_HEADER, FEWO_TIMESTAMP_HEADER, FEWO_SIGNATURE_HEADER, "Authorization")
]


# --- strategies ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    label: str
    body: bytes
    must_fail: bool  # invalid by construction: the answer has to be a 4xx
    # The platform's own valid notification, verified: it has to be accepted, or the fuzzing above never
    # got past the signature check and proved nothing about the parsers.
    must_pass: bool = False


# Numbers a JSON parser chokes on or a column cannot hold: overflowing floats, non-JSON constants,
# ints past Python's int-string conversion limit (ValueError), ints past 64 bits.
HUGE_NUMBERS = st.one_of(
    st.sampled_from(["1e999999", "-1e999999", "1E400", "NaN", "Infinity", "-Infinity"]),
    st.integers(4301, 10_000).map(lambda n: "9" * n),
    st.integers(19, 4300).map(lambda n: "1" + "0" * n),
    st.integers(min_value=2**63).map(str),
)

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63) + 1, 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["", "0", "-1", "1", "2027-06-01", "RESERVATION_CREATED", "reservation.created", "AIR-1"]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.text(max_size=10), st.sampled_from(["event_id", "eventId", "message", "data", "type"])),
            children,
            max_size=4,
        ),
    ),
    max_leaves=12,
)

# What a field may hold instead of what the platform documents: other types, numbers as strings, ...
WRONG_VALUES = st.one_of(
    st.sampled_from([None, [], {}, [1], {"a": 1}, "", "1", "-3", True, False, -1, 1.5, 0, 2**63 - 1]),
    JSON_VALUES,
)

INVALID_UTF8 = st.sampled_from(
    [b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf8\x88\x80\x80\x80"]
)
# Text a JSON string may hold that no identifier may: NUL and other controls, lone surrogates.
BAD_TEXT = st.sampled_from(["\\u0000", "\\ud800", "\\udfff", "\\u001b", "a\\u0000b", "\\ud83d"])


def deep(depth: int, opener: str, closed: bool) -> bytes:
    closer = {"[": "]", '{"a":': "}", "<a>": "</a>", '{"message":{"data":': "}}"}[opener]
    inner = "1" if opener != "<a>" else "x"
    return (opener * depth + (inner + closer * depth if closed else "")).encode()


DEEP = st.builds(
    deep,
    depth=st.one_of(st.integers(100, 3000), st.just(100_000)),
    opener=st.sampled_from(["[", '{"a":', "<a>", '{"message":{"data":']),
    closed=st.booleans(),
)

XML_TOKENS = st.sampled_from(
    [
        "<",
        ">",
        "</",
        "/>",
        '="',
        '"',
        "&",
        "&amp;",
        "&#0;",
        "&#xD800;",
        ";",
        "<?xml version='1.0'?>",
        "<!DOCTYPE x>",
        "<![CDATA[",
        "]]>",
        "<!--",
        "-->",
        "soap-env:Envelope",
        "Body",
        "OTA_CancelRQ",
        "UniqueID",
        " xmlns:soap-env='http://schemas.xmlsoap.org/soap/envelope/'",
        " ",
        "\n",
    ]
)
XML_ISH = st.lists(st.one_of(XML_TOKENS, st.text(max_size=5)), max_size=40).map(lambda parts: "".join(parts).encode())
OVERSIZED = st.integers(1, 4096).map(lambda extra: b"{" + b" " * (django_settings.WEBHOOK_MAX_BODY_BYTES + extra))


@st.composite
def any_body(draw) -> Case:
    """Bodies that need no knowledge of a platform (a kind is drawn first, so every kind gets its share)."""
    kind = draw(
        st.sampled_from(
            ["arbitrary bytes", "deep nesting", "huge number", "random JSON", "XML-ish text", "empty body", "oversized"]
        )
    )
    if kind == "arbitrary bytes":
        return Case(kind, draw(st.binary(max_size=600)), must_fail=True)
    if kind == "deep nesting":
        return Case(kind, draw(DEEP), must_fail=True)
    if kind == "huge number":
        number = draw(HUGE_NUMBERS)
        return Case(kind, draw(st.sampled_from([number, f'{{"n": {number}}}', f"[{number}]"])).encode(), True)
    if kind == "random JSON":
        value = draw(JSON_VALUES)
        return Case(kind, dumps(value), must_fail=not isinstance(value, dict))
    if kind == "XML-ish text":
        return Case(kind, draw(XML_ISH), must_fail=False)
    if kind == "empty body":
        return Case(kind, b"", must_fail=True)
    return Case(kind, draw(OVERSIZED), must_fail=True)


# JSON platforms: a valid notification, then broken in one place.


def key_paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from key_paths(item, (*prefix, key))


def replaced(value, path, new):
    if not path:
        return new
    if not isinstance(value, dict):
        return value
    out = dict(value)
    if new is DROP and len(path) == 1:
        out.pop(path[0], None)
    else:
        out[path[0]] = replaced(value.get(path[0], {}), path[1:], new)
    return out


def strings_raw(value):
    """Every string in ``value`` replaced by ``RAW``."""
    if isinstance(value, dict):
        return {key: strings_raw(item) for key, item in value.items()}
    if isinstance(value, list):
        return [strings_raw(item) for item in value]
    return RAW if isinstance(value, str) else value


@st.composite
def json_cases(draw, wire: Wire) -> Case:
    template = wire.json_template()
    paths = list(key_paths(template))
    kind = draw(st.sampled_from(["valid", "wrong value", "dropped key", "huge number", "bad text", "bad utf-8", "top"]))
    event(f"json: {kind}")
    if kind == "valid":
        return Case(kind, wire.encode(template), must_fail=False, must_pass=True)
    if kind == "wrong value":
        path = draw(st.sampled_from(paths[1:]))
        return Case(kind, wire.encode(replaced(template, path, draw(WRONG_VALUES))), must_fail=False)
    if kind == "dropped key":
        path = draw(st.sampled_from(paths[1:]))
        return Case(kind, wire.encode(replaced(template, path, DROP)), must_fail=False)
    if kind == "huge number":
        path = draw(st.sampled_from([*paths, ("extra",)]))
        return Case(kind, wire.encode(replaced(template, path, RAW), draw(HUGE_NUMBERS)), must_fail=True)
    if kind == "bad text":
        # Every string of the notification, so its identifiers among them.
        bad = '"' + draw(BAD_TEXT) + '"'
        return Case(kind, wire.encode(strings_raw(template), bad), must_fail=True)
    if kind == "bad utf-8":
        body = wire.encode(template)
        at = draw(st.integers(0, len(body)))
        return Case(kind, body[:at] + draw(INVALID_UTF8) + body[at:], must_fail=True)
    # A JSON value where an object is expected.
    value = draw(JSON_VALUES.filter(lambda v: not isinstance(v, dict)))
    return Case("not an object", dumps(value), must_fail=True)


# Expedia: a valid SOAP notification (credentials included), then broken in one place.

OTA_TAGS = [
    "OTA_HotelResNotifRQ",
    "OTA_HotelResModifyNotifRQ",
    "OTA_CancelRQ",
    "HotelReservations",
    "HotelReservation",
    "HotelResModifies",
    "HotelResModify",
    "UniqueID",
    "RoomStays",
    "RoomStay",
    "TimeSpan",
    "Total",
    "GuestCounts",
    "GuestCount",
    "Rate",
    "ResGlobalInfo",
    "HotelReservationIDs",
    "HotelReservationID",
    "Verification",
    "ReservationTimeSpan",
    "AssociatedQuantity",
    "Vendor",
    "PersonName",
    "Customer",
    "ResGuest",
    "Telephone",
]
OTA_ATTRIBUTES = [
    "Type",
    "ID",
    "Start",
    "End",
    "Count",
    "Quantity",
    "CodeContext",
    "AmountAfterTax",
    "AmountBeforeTax",
    "CurrencyCode",
    "EffectiveDate",
    "ExpireDate",
    "TimeStamp",
    "LastModifyDateTime",
    "CreateDateTime",
    "ResStatus",
    "HotelCode",
    "ResID_Value",
    "PrimaryIndicator",
    "SupplierHotelCode",
]
XML_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)
# Attribute values the OTA parsers turn into numbers, amounts and dates.
XML_NUMBERS = st.one_of(
    st.sampled_from(["²", "¹²³", "①", "٣", "-1", "0", "007", "1e3"]),
    HUGE_NUMBERS,
)
XML_AMOUNTS = st.sampled_from(["NaN", "sNaN", "-Infinity", "1e999999", "-0.00", "1E-999999", "12,50"])
XML_DATES = st.sampled_from(
    [
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "2027-02-30",
        "2027-07-01",
        "2027-07-04",
        "2027-07-01T25:00:00",
        "0000-00-00",
    ]
)
TRICKY_VALUES = st.one_of(
    XML_NUMBERS,
    XML_AMOUNTS,
    XML_DATES,
    st.sampled_from(["", "14", "guests", "a:b:c", "Cancel", "true"]),
    XML_TEXT,
)


@st.composite
def xml_cases(draw, wire: Wire) -> Case:
    source = draw(st.sampled_from(wire.xml_templates))()
    kind = draw(
        st.sampled_from(
            ["valid", "attribute value", "new attribute", "tag", "removed", "added", "deep", "bad utf-8", "bad char"]
        )
    )
    event(f"xml: {kind}")
    if kind == "valid":
        return Case(kind, source, must_fail=False, must_pass=True)
    if kind in ("bad utf-8", "bad char", "deep"):
        # Inside the SOAP body, after the (valid) credentials.
        at = source.index(b"</soap-env:Body>")
        junk = {
            "bad utf-8": draw(INVALID_UTF8),
            "bad char": draw(st.sampled_from([b"&#0;", b"&#xD800;", b"&#x1;", b"\x01", b"\x00"])),
            "deep": deep(draw(st.integers(300, 5000)), "<a>", True),
        }[kind]
        return Case(kind, source[:at] + junk + source[at:], must_fail=True)
    root = etree.fromstring(source)
    # Only inside the SOAP body: the credentials in the header stay valid, so the parser is reached.
    soap_body = root.find("{*}Body")
    elements = list(soap_body.iter())
    for _ in range(draw(st.integers(1, 4))):
        with_attributes = [el for el in elements if el.attrib] or elements
        candidates = {"attribute value": with_attributes, "removed": elements[1:]}.get(kind, elements)
        if not candidates:
            break
        target = draw(st.sampled_from(candidates))
        ns = etree.QName(target).namespace
        if kind == "attribute value":
            target.set(draw(st.sampled_from(sorted(target.attrib) or OTA_ATTRIBUTES)), draw(TRICKY_VALUES))
        elif kind == "new attribute":
            target.set(draw(st.sampled_from(OTA_ATTRIBUTES)), draw(TRICKY_VALUES))
        elif kind == "tag":
            tag = draw(st.sampled_from(OTA_TAGS))
            target.tag = f"{{{ns}}}{tag}" if ns else tag
        elif kind == "removed" and target.getparent() is not None:
            target.getparent().remove(target)
            elements = list(soap_body.iter())
        elif kind == "added":
            tag = draw(st.sampled_from(OTA_TAGS))
            child = etree.SubElement(target, f"{{{ns}}}{tag}" if ns else tag)
            for name in draw(st.lists(st.sampled_from(OTA_ATTRIBUTES), max_size=3)):
                child.set(name, draw(TRICKY_VALUES))
            child.text = draw(XML_TEXT)
            elements.append(child)
    return Case(kind, etree.tostring(root), must_fail=False)


@st.composite
def verified_cases(draw, wire: Wire) -> Case:
    """Mostly the platform's own notification, broken; a quarter of the time any body at all."""
    if draw(st.integers(0, 3)) == 0:
        return draw(any_body())
    return draw(json_cases(wire) if wire.json_template else xml_cases(wire))


# Headers: garbage where the signatures go, and any content type.

LATIN1_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=80)
NUMBERISH = st.one_of(
    st.integers().map(str),
    st.sampled_from(["", "²", "³¹", "-1", "+5", " 7", "1_000", "0x1F", "1e9", "00001700000000"]),
    st.integers(300, 6000).map(lambda n: "9" * n),
)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


JWT_SEGMENT = st.one_of(
    DEEP,
    HUGE_NUMBERS.map(str.encode),
    JSON_VALUES.map(dumps),
    st.builds(lambda n: f'{{"alg": "RS256", "kid": {n}}}'.encode(), HUGE_NUMBERS),
    st.binary(max_size=40),
).map(b64url)
HEADER_VALUES = st.one_of(
    LATIN1_TEXT,
    NUMBERISH,
    st.builds(lambda t, v: f"t={t},v1={v}", NUMBERISH, LATIN1_TEXT),
    st.builds(lambda h, p, s: f"Bearer {h}.{p}.{s}", JWT_SEGMENT, JWT_SEGMENT, JWT_SEGMENT),
)
# Well-formed signature headers but for the timestamp, which the replay check does arithmetic with.
TIMESTAMP_HEADERS = st.builds(
    lambda t, signature: {
        meta_key(AIRBNB_SIGNATURE_HEADER): f"t={t},v1={signature}",
        meta_key(FEWO_TIMESTAMP_HEADER): t,
        meta_key(FEWO_SIGNATURE_HEADER): signature,
    },
    NUMBERISH,
    st.text("0123456789abcdef", min_size=1, max_size=64),
)
GARBAGE_HEADERS = st.one_of(
    st.dictionaries(st.sampled_from(SIGNATURE_META_KEYS), HEADER_VALUES, max_size=4),
    TIMESTAMP_HEADERS,
)
CONTENT_TYPES = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "text/xml",
            "application/soap+xml; charset=utf-16",
            "multipart/form-data; boundary=x",
            "application/x-www-form-urlencoded",
            "text/plain; charset=nonsense",
            "",
        ]
    ),
    LATIN1_TEXT,
)


# --- the checks ---------------------------------------------------------------------------------


@pytest.fixture
def connections(connect):
    """A live connection per platform, for the listing its valid notification names (so it is imported)."""
    for platform, wire in WIRES.items():
        connect(platform, wire.listing)


def post_and_check(client, broker, path: str, case: Case, headers: dict, content_type: str):
    before = (InboundEvent.objects.count(), Booking.objects.count(), queued(broker))

    response = client.generic("POST", path, data=case.body, content_type=content_type, **headers)

    status = response.status_code
    assert status < 500, f"{case.label}: {status} {response.content[:300]!r}"
    if case.must_fail:
        assert 400 <= status < 500, f"{case.label}: invalid body answered {status}"
    if case.must_pass:
        assert status == 200, f"{case.label}: the valid notification answered {status} {response.content[:300]!r}"
    if status >= 400:
        answer = response.json()
        assert isinstance(answer.get("error"), str) and answer["error"], answer
        assert isinstance(answer.get("detail"), str) and answer["detail"], answer
        assert (InboundEvent.objects.count(), Booking.objects.count(), queued(broker)) == before
    else:
        # A webhook never books by itself: that is the import actor's job (no worker runs here).
        assert Booking.objects.count() == before[1]


def test_every_webhook_platform_of_the_registry_is_served_and_fuzzed():
    """The registry is the source: every platform that declares webhooks is reached at its path through
    the URL conf's webhook view, and this module can send each one a verified request (a new platform
    without a ``WIRES`` entry fails here)."""
    assert WEBHOOK_PLATFORMS, "the registry found no webhook platform"
    assert len(set(PLATFORM_PATHS.values())) == len(PLATFORM_PATHS), PLATFORM_PATHS
    for slug, path in PLATFORM_PATHS.items():
        assert adapter_class(slug).webhook_path, f"{slug} declares WEBHOOKS but no webhook_path"
        assert resolve(path).func is webhook_receive, path
        assert by_webhook_path(path.removeprefix("/webhooks/")) is adapter_class(slug), path
    assert resolve(UNKNOWN_PATH).func is webhook_receive
    assert set(WIRES) == set(WEBHOOK_PLATFORMS)
    assert all("<" not in path for path in ROUTES), ROUTES
    assert "/webhooks/health" in ROUTES


@pytest.mark.parametrize("path", sorted([*ROUTES, UNKNOWN_PATH]))
@FUZZ
@given(case=any_body(), headers=GARBAGE_HEADERS, content_type=CONTENT_TYPES)
def test_an_unverified_request_never_gets_a_5xx(client, broker, connections, certs, path, case, headers, content_type):
    platform = ROUTES.get(path)
    wire = WIRES.get(platform)
    if path not in ROUTES or (platform and not (wire and wire.unsigned)):
        # Without a valid signature (or a platform at all) nothing may get through, whatever the body.
        case = Case(case.label, case.body, must_fail=True)
    event(case.label)
    post_and_check(client, broker, path, case, headers, content_type)


@pytest.mark.parametrize("platform", sorted(PLATFORM_PATHS))
def test_the_valid_notification_of_every_platform_is_accepted(
    client, broker, connections, certs, signing_key, platform
):
    """The fuzzing starts from these: if they were refused, the hostile bodies never reached a parser."""
    wire = WIRES[platform]
    for body in [wire.encode(wire.json_template())] if wire.json_template else [t() for t in wire.xml_templates]:
        case = Case("valid", body, must_fail=False, must_pass=True)
        post_and_check(client, broker, PLATFORM_PATHS[platform], case, wire.sign(body, signing_key), "application/json")


@pytest.mark.parametrize("platform", sorted(PLATFORM_PATHS))
@FUZZ_VERIFIED
@given(data=st.data(), content_type=CONTENT_TYPES)
def test_a_verified_request_with_a_hostile_body_never_gets_a_5xx(
    client, broker, connections, certs, signing_key, platform, data, content_type
):
    wire = WIRES[platform]
    case = data.draw(verified_cases(wire), label="case")
    event(case.label)
    post_and_check(client, broker, PLATFORM_PATHS[platform], case, wire.sign(case.body, signing_key), content_type)


# --- what the fuzzing found before the fix, pinned so a regression fails every run ---------------
# Each one answered 500 (the exception is in its id) or 200 ("accepted", "stored") before the fix. The
# two marked "by reading" were found reading the parsers the fuzzing pointed at; the strategies above
# can produce them, but rarely.


def _replaced_json(platform: str, **fields) -> dict:
    """The platform's valid notification with these fields (in Google's ``message.data``) replaced."""
    wire = WIRES[platform]
    template = wire.json_template()
    for key, value in fields.items():
        path = ("message", "data", key) if platform == "google" else (key,)
        template = replaced(template, path, value)
    return template


def _expedia(source: Callable[[], bytes], old: bytes, new: bytes) -> bytes:
    body = source()
    assert old in body
    return body.replace(old, new, 1)


def _two_totals(amount: bytes) -> bytes:
    body = expedia_notification(django_settings)
    stay = body[body.index(b"<RoomStay>") : body.index(b"</RoomStays>")]
    return body.replace(stay, stay + stay.replace(b"450.00", amount))


FOUND = [
    # (id, platform, body, extra headers, signed): the exception each one raised is in the id.
    ("deep-RecursionError", "booking_com", b"[" * 100_000, {}, True),
    ("deep-closed-RecursionError", "google", deep(5000, '{"a":', True), {}, True),
    ("type-list-TypeError", "airbnb", dumps(_replaced_json("airbnb", type=[])), {}, True),
    ("type-dict-TypeError", "fewo_direkt", dumps(_replaced_json("fewo_direkt", eventType={})), {}, True),
    ("event-type-list-TypeError", "google", google_body(_replaced_json("google", eventType=[1])), {}, True),
    (
        "id-lone-surrogate-UnicodeEncodeError",
        "airbnb",
        dumps(_replaced_json("airbnb", event_id=RAW), '"\\ud800"'),
        {},
        True,
    ),
    (
        "id-lone-surrogate-UnicodeEncodeError",
        "booking_com",
        dumps(_replaced_json("booking_com", hotel_id=RAW), '"\\udfff"'),
        {},
        True,
    ),
    ("id-NUL-stored", "booking_com", dumps(_replaced_json("booking_com", hotel_id="a\x00b")), {}, True),
    ("id-ESC-stored", "fewo_direkt", dumps(_replaced_json("fewo_direkt", eventId="\x1b")), {}, True),
    (
        "encoded-surrogate-accepted",
        "booking_com",
        b'{"hotel_id": "4711", "reservati\xed\xa0\x80on_id": "3001"}',
        {},
        True,
    ),
    ("1e999999-accepted", "airbnb", dumps(_replaced_json("airbnb", occurred_at=RAW), "1e999999"), {}, True),
    ("NaN-accepted", "airbnb", dumps(_replaced_json("airbnb", type=RAW), "NaN"), {}, True),
    ("int-past-64-bits-accepted", "google", google_body(_replaced_json("google", reservationId=2**65)), {}, True),
    ("int-past-64-bits-accepted", "booking_com", dumps(_replaced_json("booking_com", hotel_id=10**40)), {}, True),
    (
        "t-OverflowError",
        "airbnb",
        b"{}",
        {meta_key(AIRBNB_SIGNATURE_HEADER): "t=" + "9" * 400 + ",v1=00"},
        False,
    ),
    (
        "t-OverflowError",
        "fewo_direkt",
        b"{}",
        {meta_key(FEWO_TIMESTAMP_HEADER): "9" * 400, meta_key(FEWO_SIGNATURE_HEADER): "x"},
        False,
    ),
    (
        "t-ValueError",
        "fewo_direkt",
        b"{}",
        {meta_key(FEWO_TIMESTAMP_HEADER): "9" * 5000, meta_key(FEWO_SIGNATURE_HEADER): "x"},
        False,
    ),
    (
        "t-superscript-ValueError",
        "fewo_direkt",
        b"{}",
        {meta_key(FEWO_TIMESTAMP_HEADER): "²", meta_key(FEWO_SIGNATURE_HEADER): "x"},
        False,
    ),
    (
        "by-reading-quantity-superscript-ValueError",
        "expedia",
        _expedia(expedia_cancel, b'Quantity="2"', 'Quantity="²"'.encode()),
        {},
        True,
    ),
    (
        "guest-count-digits-ValueError",
        "expedia",
        _expedia(lambda: expedia_notification(django_settings), b'Count="2"', b'Count="' + b"9" * 5000 + b'"'),
        {},
        True,
    ),
    (
        "timestamp-year-1-OverflowError",
        "expedia",
        _expedia(
            lambda: expedia_notification(django_settings),
            b'TimeStamp="2027-06-01T12:00:00+00:00"',
            b'TimeStamp="0001-01-01T00:00:00+01:00"',
        ),
        {},
        True,
    ),
    ("by-reading-two-totals-sNaN-InvalidOperation", "expedia", _two_totals(b"sNaN"), {}, True),
]


@pytest.mark.parametrize(
    ("platform", "body", "headers", "signed"), [case[1:] for case in FOUND], ids=[f"{c[1]}-{c[0]}" for c in FOUND]
)
def test_what_the_fuzzing_found_gets_a_4xx(
    client, broker, connections, certs, signing_key, platform, body, headers, signed
):
    wire = WIRES[platform]
    headers = {**(wire.sign(body, signing_key) if signed else {}), **headers}
    post_and_check(
        client, broker, PLATFORM_PATHS[platform], Case("found", body, must_fail=True), headers, "application/json"
    )


def test_a_method_a_webhook_url_does_not_take_gets_a_405_in_the_error_shape(client, connections):
    for path, platform in ROUTES.items():
        response = client.generic("POST" if platform is None else "GET", path)

        assert response.status_code == 405, path
        assert response.json()["error"] == "method_not_allowed" and response.json()["detail"], path
