"""Alert mails: printed on the console in embedded mode, sent over SMTP from the environment with the
services; the SMTP password may come from a file; a malformed value stops start-up with its name."""

from __future__ import annotations

import json

import pytest

from tests.config.test_settings import manage

SHOW = (
    "from django.conf import settings as s; import json; print(json.dumps({k: getattr(s, k) for k in ("
    "'EMAIL_BACKEND', 'EMAIL_HOST', 'EMAIL_PORT', 'EMAIL_HOST_USER', 'EMAIL_HOST_PASSWORD', 'EMAIL_USE_TLS',"
    "'EMAIL_TIMEOUT', 'DEFAULT_FROM_EMAIL', 'ALERT_GROUP_MINUTES')}))"
)


def _settings(**env) -> dict:
    result = manage("shell", "-c", SHOW, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_embedded_mode_prints_mails_on_the_console():
    assert _settings()["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"


def test_with_the_services_mails_go_over_smtp_as_the_environment_says(tmp_path):
    password = tmp_path / "smtp-password"
    password.write_text("s3cret-smtp\n")
    values = _settings(
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/unused",
        REDIS_URL="redis://127.0.0.1:6379/0",
        EMAIL_HOST="smtp.example.com",
        EMAIL_PORT="587",
        EMAIL_HOST_USER="alerts@cm.example.com",
        EMAIL_HOST_PASSWORD_FILE=str(password),
        EMAIL_USE_TLS="true",
        DEFAULT_FROM_EMAIL="Channel manager <alerts@cm.example.com>",
        ALERT_GROUP_MINUTES="5",
    )
    assert values == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "smtp.example.com",
        "EMAIL_PORT": 587,
        "EMAIL_HOST_USER": "alerts@cm.example.com",
        "EMAIL_HOST_PASSWORD": "s3cret-smtp",
        "EMAIL_USE_TLS": True,
        "EMAIL_TIMEOUT": 10.0,
        "DEFAULT_FROM_EMAIL": "Channel manager <alerts@cm.example.com>",
        "ALERT_GROUP_MINUTES": 5,
    }


@pytest.mark.parametrize(
    "name,value",
    [("EMAIL_PORT", "smtp"), ("EMAIL_TIMEOUT", "-1"), ("DEFAULT_FROM_EMAIL", "nobody"), ("ALERT_GROUP_MINUTES", "0")],
)
def test_a_malformed_mail_setting_stops_start_up_with_its_name(name, value):
    result = manage("check", **{name: value})
    assert result.returncode != 0 and name in result.stderr
