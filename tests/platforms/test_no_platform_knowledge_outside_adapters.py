"""Invariant: every fact about a platform lives in its folder under adapters/. ``channelmgr/`` and
``config/`` name no platform: they iterate the registry and branch on capabilities."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from adapters import registry

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("channelmgr", "config")
# Our own iCal export's public URL: a format we serve, not the iCal platform, and already pasted into
# platforms' calendar settings by property managers, so it must not move.
# Our own iCal export's path (/ical/<token>.ics), not the iCal platform: its route, Sentry's scrubbing of
# its token, and CORS leaving it closed.
ALLOWED = {
    ("channelmgr/urls.py", "ical/<str:token>.ics"),
    ("config/sentry.py", r"(/ical/)[^/]+(\.ics)"),
    ("config/settings.py", r"^/(?!admin/|webhooks/|ical/|metrics|healthz|readyz|static/).*$"),
}


def _names() -> set[str]:
    names = set()
    for slug, cls in registry.adapters().items():
        names |= {slug, cls.webhook_path} - {""}
    return names


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _files(suffixes: tuple[str, ...]):
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*")):
            if path.suffix in suffixes and "migrations" not in path.parts and "__pycache__" not in path.parts:
                yield path


def _pattern(names: set[str]) -> re.Pattern:
    return re.compile(r"(?<![\w.@-])(" + "|".join(map(re.escape, sorted(names))) + r")(?![\w-])")


def test_python_in_channelmgr_and_config_has_no_platform_slug_in_its_strings():
    pattern = _pattern(_names())
    found = []
    for path in _files((".py",)):
        tree = ast.parse(path.read_text(), filename=str(path))
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
                if (match := pattern.search(node.value)) and (str(path.relative_to(ROOT)), node.value) not in ALLOWED:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {match.group(0)!r} in {node.value[:60]!r}")
    assert not found, "platform knowledge outside adapters/:\n" + "\n".join(found)


def test_templates_in_channelmgr_and_config_name_no_platform():
    pattern = _pattern(_names())
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()[:80]}"
        for path in _files((".html", ".txt", ".css", ".js"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not found, "platform knowledge outside adapters/:\n" + "\n".join(found)


@pytest.mark.parametrize("source", ['x = "airbnb"', 'x = f"/_state/booking_com/stats"', "y = ('ical',)"])
def test_the_scan_catches_a_slug_in_code(source):
    """The check itself can fail: a slug in a string, an f-string or a tuple is found."""
    tree = ast.parse(source)
    pattern = _pattern(_names())
    strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert any(pattern.search(value) for value in strings)


def test_the_scan_ignores_prose_and_domains():
    pattern = _pattern(_names())
    assert not pattern.search("demo-owner-stay@airbnb.com")
    assert not pattern.search("an iCal feed from Booking.com")
