"""API clients for the named actors (shared with tests/pms_core/api)."""

from tests.pms_core.api.conftest import alice_api, api_for  # noqa: F401
