"""Every ``curl -sS`` example in the README's ``sh`` blocks runs against a live server, in order, with
``BASE``, ``TOKEN``, ``UNIT`` and ``CONNECTION`` set to real objects: it must exit 0 and get no 5xx."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import need_service

README = Path(__file__).resolve().parents[2] / "README.md"
STATUS_FORMAT = r"\nHTTP %{http_code}\n"


def readme_examples() -> list[str]:
    blocks = re.findall(r"^```sh\n(.*?)^```", README.read_text(), flags=re.DOTALL | re.MULTILINE)
    return [line for block in blocks for line in block.splitlines() if line.startswith("curl -sS")]


def test_the_readme_has_curl_examples():
    examples = readme_examples()
    assert len(examples) >= 5, examples
    assert all("\\" not in line.rstrip()[-1:] for line in examples), "examples are single lines"


@pytest.fixture
def api_env(live_server, org_a, alice, unit):
    from rest_framework.authtoken.models import Token

    from channelmgr.models import ChannelConnection

    connection = ChannelConnection.objects.create(
        organization=org_a, unit=unit, platform_type="fewo_direkt", platform_listing_id="fewo-readme-1",
        api_key="readme-key",
    )  # fmt: skip
    assert unit.base_price == Decimal("150.00")
    return {
        **os.environ,
        "BASE": live_server.url,
        "TOKEN": Token.objects.create(user=alice).key,
        "UNIT": str(unit.pk),
        "CONNECTION": str(connection.pk),
    }


def _run(example: str, env: dict) -> tuple[subprocess.CompletedProcess, int]:
    command = example if " -w " in example else f"{example} -w '{STATUS_FORMAT}'"
    done = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=60)
    codes = re.findall(r"^HTTP (\d{3})$", done.stdout, flags=re.MULTILINE)
    return done, int(codes[-1]) if codes else 0


@pytest.mark.django_db(transaction=True)
def test_every_readme_curl_example_works_against_a_live_server(api_env):
    if shutil.which("curl") is None:
        need_service("curl is missing")
    results = []
    for example in readme_examples():
        done, status = _run(example, api_env)
        results.append((status, example, done.stdout[-400:], done.stderr[-400:]))
        assert done.returncode == 0, results[-1]
        assert 200 <= status < 500, results[-1]
    statuses = [status for status, *_ in results]
    assert 409 in statuses, results  # the README shows the clash on purpose
    unexpected = [r for r in results if r[0] >= 400 and r[0] != 409]
    assert not unexpected, unexpected
