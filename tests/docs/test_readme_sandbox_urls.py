"""Every sandbox URL in the README's command examples answers once `make run` has seeded the demo: an
example that points at a feed or a path the sandbox does not serve (a 404) fails here, not in a reader's hands.

The sandbox runs in-process on a free port and gets what `make run` gives it (the demo's published iCal
feeds); the README's `http://127.0.0.1:8900` is replaced by its address. A feed is read with the iCal
adapter's own parser, as the connection the example creates would read it.
"""

from __future__ import annotations

import re
import threading

import pytest
import requests

from adapters.ical.feed import read_feed
from tests.docs.test_readme_examples import README

README_SANDBOX = "http://127.0.0.1:8900"
# Within a shell example: a sandbox URL with a path, up to the quote or space that ends it.
SANDBOX_URL = re.compile(re.escape(README_SANDBOX) + r"/[^\s\"'`]+")


def readme_sandbox_urls() -> list[str]:
    blocks = re.findall(r"^```(?:sh|bash)\n(.*?)^```", README.read_text(), flags=re.DOTALL | re.MULTILINE)
    return sorted({url for block in blocks for url in SANDBOX_URL.findall(block)})


@pytest.fixture
def seeded_sandbox(settings):
    from channelmgr.demo import demo_publish_feed
    from sandbox.server import make_server

    server = make_server("127.0.0.1", 0, "http://127.0.0.1:9")  # no webhook is sent here
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.SANDBOX_URL = server.base_url
    demo_publish_feed()  # what `make run` (seed_demo) publishes
    yield server.base_url
    server.shutdown()


def test_the_readme_names_a_sandbox_feed():
    assert [url for url in readme_sandbox_urls() if url.endswith(".ics")], readme_sandbox_urls()


@pytest.mark.parametrize("url", readme_sandbox_urls())
def test_every_sandbox_url_in_the_readme_examples_answers(seeded_sandbox, url):
    answer = requests.get(seeded_sandbox + url.removeprefix(README_SANDBOX), timeout=10)
    assert answer.status_code == 200, f"{url}: {answer.status_code} {answer.text[:200]}"
    if url.endswith(".ics"):
        assert read_feed(answer.content).events, f"{url}: a feed with no event closes no night"
