"""Settings are strict: production values pass the deploy checks, a malformed variable stops start-up."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
SERVICE_VARS = ("DATABASE_URL", "REDIS_URL")


def manage(*args, **env):
    base = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS and not k.startswith("DJANGO_")}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


PRODUCTION = {
    "DEBUG": "False",
    "SECRET_KEY": "a-real-production-secret-key-with-plenty-of-entropy-8d1f0c2b7a9e",
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "channels.example.com",
}


def test_production_values_pass_check_deploy_with_no_warnings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "name,value",
    [
        ("MAX_STAY_NIGHTS", "many"),
        ("DEBUG", "perhaps"),
        ("AIRBNB_RATE_LIMIT", "0"),
        ("BOOKING_COM_RATE_WINDOW", "-60"),
        ("PUSH_DEBOUNCE_SECONDS", "soon"),
        ("SYNC_WINDOW_DAYS", "1200"),  # longer than any platform's calendar, or one request's range
        ("DATABASE_URL", "mysql://root@localhost/db"),
        ("REDIS_URL", "http://localhost:6379"),
    ],
)
def test_a_malformed_variable_fails_at_start_with_its_name(name, value):
    result = manage("check", **{name: value})
    assert result.returncode != 0
    assert name in result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = {**PRODUCTION, "SECRET_KEY": ""}
    result = manage("check", **env)
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_an_invalid_fernet_key_is_named():
    result = manage(
        "shell", "-c", "from channelmgr.crypto import encrypt; encrypt('x')", FIELD_ENCRYPTION_KEYS="not-a-key"
    )
    assert result.returncode != 0 and "FIELD_ENCRYPTION_KEYS" in result.stderr


def test_migrations_are_complete():
    result = manage("makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
