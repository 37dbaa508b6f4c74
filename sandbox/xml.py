"""Safe XML parsing and official-schema validation, with each schema compiled once.

The schemas are read at run time from the shared reference folder (never copied into the repo).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from lxml import etree

from sandbox.exchange import Invalid

log = logging.getLogger(__name__)

OTA_NS = "http://www.opentravel.org/OTA/2003/05"


def default_reference_dir() -> Path:
    configured = os.environ.get("SHARED_REFERENCE_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "shared" / "reference"


def _parser() -> etree.XMLParser:
    # No entities, no DTDs, no network: inbound XML is untrusted.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def parse(body: bytes) -> etree._Element:
    """Parse an inbound XML body; raises Invalid when it is not well-formed XML."""
    if not body.strip():
        raise Invalid("empty body, an XML document was expected")
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise Invalid("DOCTYPE and ENTITY declarations are not accepted")
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as exc:
        raise Invalid(f"malformed XML: {exc}") from exc
    if root.getroottree().docinfo.doctype:
        raise Invalid("DOCTYPE declarations are not accepted")
    return root


def to_bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def local_name(element: etree._Element) -> str:
    return etree.QName(element).localname


class SchemaLibrary:
    """Compiles official XSDs on first use and keeps them. Without the folder, validation is skipped."""

    def __init__(self, reference_dir: str | os.PathLike | None = None):
        self.root = Path(reference_dir) if reference_dir else default_reference_dir()
        self._schemas: dict[str, tuple[etree.XMLSchema, threading.Lock]] = {}
        self._lock = threading.Lock()
        self._warned = False

    @property
    def available(self) -> bool:
        return self.root.is_dir()

    def get(self, relative: str) -> tuple[etree.XMLSchema, threading.Lock] | None:
        if not self.available:
            self._warn_once()
            return None
        with self._lock:
            entry = self._schemas.get(relative)
            if entry is None:
                schema = etree.XMLSchema(etree.parse(str(self.root / relative), _parser()))
                entry = self._schemas[relative] = (schema, threading.Lock())
            return entry

    def validate(self, relative: str, element: etree._Element) -> None:
        """Raises Invalid with the schema's first complaint."""
        entry = self.get(relative)
        if entry is None:
            return
        schema, lock = entry
        with lock:  # an XMLSchema keeps its error log on itself, so one validation at a time
            valid = schema.validate(element)
            error = schema.error_log.last_error
        if not valid:
            raise Invalid(f"does not validate against {relative}: line {error.line}: {error.message}")

    def check_outbound(self, relative: str, element: etree._Element) -> None:
        """Our own messages must be valid; a failure here is a sandbox bug, so it is logged loudly."""
        try:
            self.validate(relative, element)
        except Invalid as exc:
            log.error("sandbox built an invalid message: %s", exc.message)

    def _warn_once(self) -> None:
        if not self._warned:
            self._warned = True
            log.warning("reference folder %s not found: XSD validation is skipped", self.root)
