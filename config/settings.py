"""Settings, read from the environment (see .env.example for every variable).

With nothing set, the project runs embedded: SQLite, the local-memory cache and Dramatiq's in-memory
broker with worker threads inside the server process. ``DATABASE_URL`` switches to Postgres and
``REDIS_URL`` switches the cache and the broker to Redis.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from corsheaders.defaults import default_headers as cors_default_headers
from django.core.exceptions import ImproperlyConfigured

from adapters import registry as adapter_registry
from config.env import env, positive_float, positive_int, read
from config.platforms import platform_settings

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = read("DEBUG", env.bool, True)
TESTING = read("TESTING", env.bool, False)

_DEV_SECRET_KEY = "dev-only-insecure-key-change-me-in-production-0123456789abcdef"
SECRET_KEY = read("SECRET_KEY", env.str, _DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY: must be set when DEBUG is off")

ALLOWED_HOSTS = read("ALLOWED_HOSTS", env.list, ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = read("CSRF_TRUSTED_ORIGINS", env.list, [])
# The public base URL platforms call back (OAuth redirect, webhooks, iCal export links).
PUBLIC_BASE_URL = read("PUBLIC_BASE_URL", env.str, "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "channelmgr.staff_home.apps.StaffAdminConfig",  # django.contrib.admin with the staff home as its index
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc as our own static files: /api/docs/ works offline
    "django_dramatiq",
    "django_prometheus",
    "corsheaders",
    "pms_core",
    "channelmgr",
    "alerts",
    "idempotency",
    "integrations",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # Before anything that can answer (whitenoise, CommonMiddleware), so its headers reach every answer.
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database ---------------------------------------------------------------------------------

SQLITE_PATH = read("SQLITE_PATH", env.str, str(BASE_DIR / "var" / "db.sqlite3"))
DATABASE_URL = read("DATABASE_URL", env.str, "")
if DATABASE_URL:
    try:
        _db = env.db_url_config(DATABASE_URL)
    except Exception as exc:  # django-environ raises several types for a bad URL
        raise ImproperlyConfigured(f"DATABASE_URL: invalid value: {exc}") from exc
    if _db.get("ENGINE") != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_URL: only postgres:// URLs are supported")
    _db["CONN_MAX_AGE"] = read("DB_CONN_MAX_AGE", env.int, 60)
    _db["CONN_HEALTH_CHECKS"] = True
    # One test database per test run, so concurrent runs on one machine don't drop each other's.
    _db.setdefault("TEST", {})["NAME"] = read("TEST_DATABASE_NAME", env.str, f"test_channelmgr_{os.getpid()}")
    DATABASES = {"default": _db}
else:
    Path(SQLITE_PATH).parent.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SQLITE_PATH,
            # IMMEDIATE takes the write lock at BEGIN, so the overlap check and the insert of a
            # booking cannot interleave with another writer (SQLite's stand-in for the exclusion
            # constraint). The timeout lets concurrent writers queue instead of failing.
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
            "TEST": {"NAME": str(BASE_DIR / "var" / f"test-{os.getpid()}.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "pms_core.User"

# --- cache and broker -------------------------------------------------------------------------

REDIS_URL = read("REDIS_URL", env.str, "")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(f"REDIS_URL: invalid value {REDIS_URL!r}: expected redis:// or rediss://")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "config.redis_cache.RedisCache",  # Django's, with one client per pool instead of one per call
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": read("CACHE_KEY_PREFIX", env.str, "cm"),
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    # Django's default of 300 entries is less than the limiter's keys for one 100-a-second platform
    # alone; culling would drop the claims and flags that the embedded worker's threads rely on.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "channelmgr",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }

_DRAMATIQ_MIDDLEWARE = [
    "dramatiq.middleware.AgeLimit",
    "dramatiq.middleware.TimeLimit",
    "dramatiq.middleware.Callbacks",
    # Retries, except that Backpressure (limiter full, breaker open) reschedules without spending one.
    "channelmgr.resilience.dramatiq_backpressure.BackpressureRetries",
    "dramatiq.middleware.CurrentMessage",
    "django_dramatiq.middleware.DbConnectionsMiddleware",
]
if REDIS_URL:
    DRAMATIQ_BROKER = {
        "BROKER": "config.dramatiq_broker.PromptRedisBroker",
        "OPTIONS": {
            "url": REDIS_URL,
            # How often an idle worker looks for new messages: the latency of every hop (see the module).
            "poll_ms": positive_int("DRAMATIQ_POLL_MS", 100),
            "namespace": read("DRAMATIQ_NAMESPACE", env.str, "channelmgr"),
            # A worker that dies (SIGKILL, OOM) stops heartbeating; after this its unacknowledged
            # messages go back on the queue, at the next maintenance run (chance per million commands).
            "heartbeat_timeout": int(positive_float("DRAMATIQ_HEARTBEAT_TIMEOUT_SECONDS", 15.0) * 1000),
            "maintenance_chance": positive_int("DRAMATIQ_MAINTENANCE_CHANCE", 10_000),
        },
        "MIDDLEWARE": _DRAMATIQ_MIDDLEWARE,
    }
else:
    DRAMATIQ_BROKER = {"BROKER": "dramatiq.brokers.stub.StubBroker", "OPTIONS": {}, "MIDDLEWARE": _DRAMATIQ_MIDDLEWARE}
DRAMATIQ_RESULT_BACKEND = None
DRAMATIQ_AUTODISCOVER_MODULES = ["tasks"]
# Embedded mode runs worker threads inside the web process (the in-memory broker is per process).
EMBEDDED_WORKER = read("EMBEDDED_WORKER", env.bool, not REDIS_URL)
EMBEDDED_WORKER_THREADS = positive_int("EMBEDDED_WORKER_THREADS", 4)

# --- i18n, static -----------------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns about a missing root before collectstatic
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- security (production values when DEBUG is off) -------------------------------------------

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = read("SECURE_SSL_REDIRECT", env.bool, not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = read("SECURE_HSTS_SECONDS", env.int, 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = read("SECURE_HSTS_PRELOAD", env.bool, not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Health and metrics are probed over plain HTTP inside the cluster.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# Credentials at rest: comma-separated Fernet keys, the first one encrypts (see rotate_credentials).
_DEV_FIELD_KEY = "ZGV2LW9ubHktZmllbGQta2V5LWRvLW5vdC11c2UtMDA="
FIELD_ENCRYPTION_KEYS = read("FIELD_ENCRYPTION_KEYS", env.list, [_DEV_FIELD_KEY] if DEBUG else [])
if not FIELD_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS: must be set when DEBUG is off")

# --- API ----------------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "pms_core.api.pagination.ApiPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Channel manager API",
    "DESCRIPTION": "PMS core and channel connections for integrators. Ranges are half-open [start, end).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # From our static files (drf-spectacular-sidecar), not a CDN: the docs render without internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a "kind"/"status" field with different choices: name each set.
    "ENUM_NAME_OVERRIDES": {
        "BookingKindEnum": "pms_core.models.Booking.Kind",
        "BookingStatusEnum": "pms_core.models.Booking.Status",
        "SyncLogKindEnum": "channelmgr.models.SyncLog.Kind",
        "SyncLogStatusEnum": "channelmgr.models.SyncLog.Status",
        "ConnectionStatusEnum": "channelmgr.models.ChannelConnection.Status",
        # A connection's platform_type and an inbound event's platform: one set, one name.
        "PlatformEnum": "adapters.registry.choices",
        "WebhookEventTypeEnum": "integrations.events.EVENT_TYPES",
    },
}

# --- browser integrators (CORS) and error tracking (Sentry) ------------------------------------

# Origins whose browser pages may call the API, e.g. https://pms.example.com. Empty (the default): CORS off.
CORS_ALLOWED_ORIGINS = read("CORS_ALLOWED_ORIGINS", env.list, [])
for _origin in CORS_ALLOWED_ORIGINS:
    if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?", _origin):
        raise ImproperlyConfigured(
            f"CORS_ALLOWED_ORIGINS: invalid origin {_origin!r}: expected scheme://host[:port], no path"
        )
# The API only: not the admin, the platforms' webhooks, iCal feeds, metrics or probes.
CORS_URLS_REGEX = r"^/(?!admin/|webhooks/|ical/|metrics|healthz|readyz|static/).*$"
CORS_ALLOW_HEADERS = (*cors_default_headers, "idempotency-key")
CORS_EXPOSE_HEADERS = ["Idempotent-Replayed"]
CORS_ALLOW_CREDENTIALS = False  # integrators send a token header; cookies would need CSRF across origins

# Error tracking: off unless SENTRY_DSN is set (config/sentry.py: no PII, bodies or secrets are sent).
SENTRY_DSN = read("SENTRY_DSN", env.str, "")
SENTRY_ENVIRONMENT = read("SENTRY_ENVIRONMENT", env.str, "development" if DEBUG else "production")
SENTRY_TRACES_SAMPLE_RATE = read("SENTRY_TRACES_SAMPLE_RATE", env.float, 0.0)
if not 0.0 <= SENTRY_TRACES_SAMPLE_RATE <= 1.0:
    raise ImproperlyConfigured(f"SENTRY_TRACES_SAMPLE_RATE: must be from 0 to 1, got {SENTRY_TRACES_SAMPLE_RATE}")
if SENTRY_DSN:
    from config.sentry import sentry_init

    sentry_init(dsn=SENTRY_DSN, environment=SENTRY_ENVIRONMENT, traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE)

# --- domain limits ------------------------------------------------------------------------------

MAX_STAY_NIGHTS = positive_int("MAX_STAY_NIGHTS", 365)
CALENDAR_MAX_DAYS = positive_int("CALENDAR_MAX_DAYS", 731)

# --- platforms ----------------------------------------------------------------------------------

SANDBOX_URL = read("SANDBOX_URL", env.str, "http://127.0.0.1:8900").rstrip("/")
SHARED_REFERENCE_DIR = read("SHARED_REFERENCE_DIR", env.str, str(BASE_DIR.parent / "shared" / "reference"))

# Every platform the registry finds (one folder each under adapters/), with the settings its adapter
# declares, read from the environment under its prefix (config/platforms.py).
adapter_registry.use_packages(read("ADAPTER_PACKAGES", env.list, list(adapter_registry.DEFAULT_PACKAGES)))
PLATFORMS = {
    slug: platform_settings(cls, debug=DEBUG, sandbox_url=SANDBOX_URL, public_base_url=PUBLIC_BASE_URL)
    for slug, cls in adapter_registry.adapters().items()
}
# Outbound fetches (iCal feeds) to private/loopback addresses are refused unless allowed: the
# sandbox runs on 127.0.0.1, so embedded mode allows them.
ALLOW_PRIVATE_NETWORK_FETCH = read("ALLOW_PRIVATE_NETWORK_FETCH", env.bool, DEBUG)
# Integrators' webhook URLs on private/loopback addresses: off even in DEBUG (tests' local receivers only).
INTEGRATIONS_ALLOW_PRIVATE_URLS = read("INTEGRATIONS_ALLOW_PRIVATE_URLS", env.bool, False)

# --- sync engine ------------------------------------------------------------------------------

PUSH_DEBOUNCE_SECONDS = positive_float("PUSH_DEBOUNCE_SECONDS", 1.0)
# A steady stream of changes still goes out this often: the debounce never holds a change longer.
PUSH_MAX_WAIT_SECONDS = positive_float("PUSH_MAX_WAIT_SECONDS", 5.0)
# At most about three years: the longest calendar a platform keeps, and the longest range one request may
# carry (docs/platforms.md); a longer window went out as one range every platform refused.
SYNC_WINDOW_DAYS = positive_int("SYNC_WINDOW_DAYS", 365, most=1100)
# A rotated iCal export URL keeps answering this long, time to give the importing platforms the new one.
ICAL_EXPORT_GRACE_HOURS = positive_float("ICAL_EXPORT_GRACE_HOURS", 24.0)
# History kept (``channelmgr.housekeeping``, hourly): sync logs, task attempts and consumed outbox events
# for SYNC_LOG_RETENTION_DAYS; handled webhooks, acknowledged booking revisions and mailed alerts for
# HISTORY_RETENTION_DAYS. Never what is still needed (a connection's last log, a failed webhook, ...).
SYNC_LOG_RETENTION_DAYS = positive_int("SYNC_LOG_RETENTION_DAYS", 30, most=3650)
HISTORY_RETENTION_DAYS = positive_int("HISTORY_RETENTION_DAYS", 90, most=3650)
WEBHOOK_MAX_BODY_BYTES = positive_int("WEBHOOK_MAX_BODY_BYTES", 1024 * 1024)
TASK_MAX_ATTEMPTS = positive_int("TASK_MAX_ATTEMPTS", 20)
BREAKER_FAILURE_THRESHOLD = positive_int("BREAKER_FAILURE_THRESHOLD", 5)
BREAKER_SUCCESS_THRESHOLD = positive_int("BREAKER_SUCCESS_THRESHOLD", 2)
BREAKER_TIMEOUT_SECONDS = positive_float("BREAKER_TIMEOUT_SECONDS", 60.0)
BREAKER_HALF_OPEN_PROBES = positive_int("BREAKER_HALF_OPEN_PROBES", 1)
# One scheduler runs the jobs while it holds this lease; a standby takes over within one lease of its death.
SCHEDULER_LEASE_SECONDS = positive_float("SCHEDULER_LEASE_SECONDS", 15.0)

# --- e-mail (staff alerts) ----------------------------------------------------------------------

# Embedded mode (no DATABASE_URL, no REDIS_URL) prints mails on the console; otherwise they go out over SMTP.
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if DATABASE_URL or REDIS_URL
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_HOST = read("EMAIL_HOST", env.str, "localhost")
EMAIL_PORT = positive_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = read("EMAIL_HOST_USER", env.str, "")
EMAIL_HOST_PASSWORD = read("EMAIL_HOST_PASSWORD", env.str, "")
EMAIL_USE_TLS = read("EMAIL_USE_TLS", env.bool, False)
# Seconds before an unanswering SMTP server fails the send (Django waits for ever by default).
EMAIL_TIMEOUT = positive_float("EMAIL_TIMEOUT", 10.0)
DEFAULT_FROM_EMAIL = read("DEFAULT_FROM_EMAIL", env.str, "channel-manager@localhost")
if "@" not in DEFAULT_FROM_EMAIL:
    raise ImproperlyConfigured(f"DEFAULT_FROM_EMAIL: invalid value {DEFAULT_FROM_EMAIL!r}: expected an e-mail address")
# After an alert mail, later alerts of the same kind for the same organization wait this long and go as one.
ALERT_GROUP_MINUTES = positive_int("ALERT_GROUP_MINUTES", 15)
# The first mail of a kind waits this long after its first alert, so repeats (one guest's booking
# overbooking on three platforms at once) ride in it rather than in a digest a window later.
ALERT_GATHER_SECONDS = 60

# --- logging ------------------------------------------------------------------------------------

LOG_JSON = read("LOG_JSON", env.bool, False)
LOG_LEVEL = read("LOG_LEVEL", env.str, "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "correlation": {"()": "config.logging.CorrelationIdFilter"},
        "transient_retry": {"()": "channelmgr.resilience.retry_logs.TransientRetryLog"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(correlation_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_JSON else "plain",
            "filters": ["correlation"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # urllib3's DEBUG lines quote each request's path and query: an iCal feed's carry its secret token.
        "urllib3": {"level": "INFO"},
        # A transient platform error that will be retried is one WARNING line, not an ERROR with a traceback.
        "dramatiq.worker.WorkerThread": {"filters": ["transient_retry"]},
    },
}

# The actor pms_core's outbox hands every domain event to.
OUTBOX_CONSUMER = "channelmgr.tasks.consume_outbox_event"
