"""The dependency directions DESIGN.md and the README promise, checked on every import statement
(including those inside functions, which is where cycles used to hide)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# (package, prefixes it must never import, why)
RULES = [
    ("adapters", ("django", "channelmgr", "pms_core", "config"), "adapters are plain Python: no Django, no models"),
    (
        "money",
        ("django", "channelmgr", "pms_core", "adapters", "config"),
        "money is plain Python that every layer uses",
    ),
    ("pms_core", ("channelmgr",), "the PMS core knows nothing about channels"),
    ("pms_core", ("integrations",), "integrators' webhooks listen to the PMS's signals; it never calls them"),
    ("channelmgr", ("integrations",), "integrators' webhooks listen to the channel signals; it never calls them"),
    ("idempotency", ("pms_core", "channelmgr"), "Idempotency-Key is HTTP plumbing every API shares: no domain code"),
    ("sandbox", ("adapters", "channelmgr", "pms_core", "config"), "the simulator shares no code with the project"),
    ("channelmgr/sync", ("channelmgr.tasks", "channelmgr.inbound.tasks"), "services never import actors"),
    ("channelmgr/inbound", ("channelmgr.sync",), "inbound and sync share the gateway in resilience/, not each other"),
    ("channelmgr/resilience", ("channelmgr.sync", "channelmgr.inbound", "channelmgr.tasks"), "both sides use it"),
    ("pms_core", ("alerts",), "staff alerts listen to the core's signals; the core never calls them"),
    ("channelmgr", ("alerts",), "staff alerts listen to the connections' signals; channelmgr never calls them"),
]


def imports_of(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def violations(package: str, forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, module in imports_of(path):
            if any(module == prefix or module.startswith(prefix + ".") for prefix in forbidden):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return bad


@pytest.mark.parametrize(("package", "forbidden", "why"), RULES, ids=[rule[0] for rule in RULES])
def test_dependencies_point_one_way(package, forbidden, why):
    assert not violations(package, forbidden), f"{why}:\n" + "\n".join(violations(package, forbidden))


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from channelmgr.tasks import push\n")
    assert imports_of(module) == [(2, "channelmgr.tasks")]
