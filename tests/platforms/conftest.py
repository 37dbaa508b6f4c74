# The live sandbox, its worker and a unit on every sandbox platform: the same stack the push tests use.
from tests.channelmgr.sync.conftest import connected_unit, sandbox, sandbox_url, worker  # noqa: F401
