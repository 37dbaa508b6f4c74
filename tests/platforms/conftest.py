import pytest
from django.conf import settings as django_settings

from config.platforms import platform_settings

# The live sandbox, its worker and a unit on every sandbox platform: the same stack the push tests use.
from tests.channelmgr.sync.conftest import connected_unit, sandbox, sandbox_url, worker  # noqa: F401

from . import sixth


@pytest.fixture  # after ``connected_unit`` in a test's arguments: the sandbox has no Seaside listing
def seaside(tmp_path, settings, monkeypatch):
    """The sixth platform installed and configured from the environment, as an operator would."""
    monkeypatch.setenv("SEASIDE_API_BASE", sixth.API)
    monkeypatch.setenv("SEASIDE_WEBHOOK_SECRETS", sixth.SECRET)
    with sixth.installed(tmp_path) as cls:
        settings.PLATFORMS = {
            **settings.PLATFORMS,
            cls.slug: platform_settings(
                cls,
                debug=django_settings.DEBUG,
                sandbox_url=django_settings.SANDBOX_URL,
                public_base_url=django_settings.PUBLIC_BASE_URL,
            ),
        }
        yield cls
