"""A pytest plugin (``-p tests.xdist_workers``) giving each pytest-xdist worker of the services pass a
Redis database of its own: the tests clear the cache (``FLUSHDB``) and flush the broker's queues, which
two workers on one database would do to each other. Worker ``gwN`` takes database ``base + N``.

It must run before pytest-django sets Django up (which reads ``REDIS_URL``), hence a plugin imported
with ``-p`` and not a conftest. The e2e stacks keep ``E2E_REDIS_DB`` under prefixes of their own.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

_worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # set by xdist before the worker reads its config
_redis_url = os.environ.get("REDIS_URL", "")
if _worker.startswith("gw") and _redis_url:
    _parts = urlsplit(_redis_url)
    _db = int(_parts.path.strip("/") or 0) + int(_worker.removeprefix("gw"))
    if str(_db) == os.environ.get("E2E_REDIS_DB", "9"):
        raise RuntimeError(f"xdist worker {_worker} would clear the e2e stacks' Redis database {_db}")
    os.environ["REDIS_URL"] = urlunsplit(_parts._replace(path=f"/{_db}"))
