"""docker-compose.yml: valid against the Compose Specification's JSON schema (checked into deploy/schemas
with its source named), every service of ours runs a command the image has, and sets only variables that
.env.example documents."""

from __future__ import annotations

import hashlib
import json

import jsonschema
import pytest
import yaml

from tests.deploy import commands
from tests.deploy.env_example import ROOT, env_example_names

SCHEMA = ROOT / "deploy" / "schemas" / "compose-spec.json"
# deploy/schemas/README.md: the upstream file as check-jsonschema 0.39.0 vendors it, not edited.
SCHEMA_SHA256 = "d549057ebc2925f39f62799eab0db7b9e2c18b35b6c00595199116da3ed10e64"


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _ours(compose: dict) -> dict[str, dict]:
    """The services built from this repository (the others run postgres' and redis' own images)."""
    return {name: service for name, service in compose["services"].items() if "build" in service}


def test_the_schema_is_the_named_upstream_file_unchanged():
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256
    assert SCHEMA_SHA256 in (SCHEMA.parent / "README.md").read_text()


def test_docker_compose_yml_is_valid_against_the_compose_specification():
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(_compose())]
    assert not errors, "\n".join(errors)


def test_the_schema_refuses_what_compose_refuses():
    """The check has teeth: a misspelt key and a wrong type are errors."""
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    compose = _compose()
    compose["services"]["web"]["comand"] = "gunicorn"
    compose["services"]["worker"]["depends_on"] = {"web": {"condition": "when_ready"}}
    refused = {tuple(error.absolute_path)[:2] for error in validator.iter_errors(compose)}
    assert refused == {("services", "web"), ("services", "worker")}


@pytest.mark.parametrize("name", sorted(_ours(_compose())))
def test_every_service_command_exists(name):
    service = _ours(_compose())[name]
    command = service.get("command")
    assert isinstance(command, list), f"{name}: give the command as a list, not a string to split"
    try:
        commands.check(command)
        test = service.get("healthcheck", {}).get("test")
        if test:
            assert test[0] == "CMD", f"{name}: healthcheck {test}"
            commands.check(test[1:])
    except commands.NotRunnable as exc:
        pytest.fail(f"{name}: {exc}")


def test_every_variable_the_services_set_is_in_env_example():
    for name, service in _ours(_compose()).items():
        unknown = set(service.get("environment", {})) - env_example_names()
        assert not unknown, f"{name}: not in .env.example: {sorted(unknown)}"
