"""`make demo-scenario PLATFORM=<slug>` reaches `manage.py demo_scenario --platform <slug>`, for every
platform the command accepts; without PLATFORM the command's own default applies."""

from __future__ import annotations

import shlex
import shutil
import subprocess

import pytest

from adapters import registry
from adapters.base import Capability
from channelmgr.management.commands.demo_scenario import Command
from tests.conftest import need_service
from tests.deploy.env_example import ROOT


def _command_line(*make_args: str) -> list[str]:
    """The argv `make` would run for demo-scenario (dry run: nothing runs), from `manage.py` on."""
    if shutil.which("make") is None:
        need_service("make is missing")
    dry = subprocess.run(
        ["make", "-n", "--no-print-directory", "demo-scenario", *make_args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert dry.returncode == 0, dry.stderr
    line = next(line for line in dry.stdout.splitlines() if "manage.py demo_scenario" in line)
    argv = shlex.split(line)
    return argv[argv.index("manage.py") + 1 :]


def _parsed(argv: list[str]):
    return Command().create_parser("manage.py", argv[0]).parse_args(argv[1:])


@pytest.mark.parametrize("slug", registry.slugs(Capability.WEBHOOKS))
def test_platform_reaches_the_command(slug):
    assert _parsed(_command_line(f"PLATFORM={slug}")).platform == slug


def test_without_platform_the_commands_default_applies():
    argv = _command_line()
    assert "--platform" not in argv
    assert _parsed(argv).platform == registry.slugs(Capability.WEBHOOKS)[0]
