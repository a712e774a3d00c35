"""OpsConsole settings, driven by environment variables (see README, "Configuration").

Embedded default: SQLite files under ``var/``, the django-q2 ORM broker and a SQLite
channel layer, so one machine runs everything with no other server. Production:
``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL`` (channel layer, cache, optional broker).
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from opsconsole.env import (
    database_from_url,
    envbool,
    envfloat,
    envint,
    envlist,
    envloglevel,
    envsecret,
    envstr,
    envtemplates,
    envtimezone,
    load_dotenv,
    sqlite_database,
)

BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv(Path(envstr("OPSCONSOLE_ENV_FILE", str(BASE_DIR / ".env"))))

VAR_DIR = Path(envstr("OPSCONSOLE_VAR_DIR", str(BASE_DIR / "var"))).resolve()
try:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # Made here, so a directory that exists but cannot be written fails now, in one line,
    # not in the middle of a migration or the first request.
    (VAR_DIR / "staticfiles").mkdir(exist_ok=True)
except OSError as exc:
    raise ImproperlyConfigured(
        f"OPSCONSOLE_VAR_DIR={str(VAR_DIR)!r} cannot be used: {exc.strerror}"
    ) from None

DEBUG = envbool("DEBUG", False)


def _secret_key() -> str:
    """SECRET_KEY from the environment (or the file SECRET_KEY_FILE names); else, for
    the embedded single-machine console, one generated once and kept in var/.

    Processes on several machines must sign with one key: a session made by one web
    process, or a signed acknowledgement link a worker wrote, is refused by a process
    with another. A console on PostgreSQL whose roles all run on one machine
    (``make run``) may keep the generated key; the system check
    ``opsconsole.W001`` says, at every start, that scaling out needs a shared one.
    """
    key = envsecret("SECRET_KEY")
    if key:
        return key
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


HOST = envstr("HOST", "127.0.0.1")
PORT = envint("PORT", 8000, minimum=1)
if PORT > 65535:
    raise ImproperlyConfigured(f"PORT={PORT} is not a TCP port (1-65535)")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", HOST])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])
# An anonymous write gets 401 and where to log in, not "CSRF verification failed".
CSRF_FAILURE_VIEW = "opsconsole.views.csrf_failure"
# Links in notifications point back here.
PUBLIC_URL = envstr("PUBLIC_URL", f"http://{HOST}:{PORT}").rstrip("/")

# daphne is not an app here: as one it only replaces runserver, and it would load
# twisted and OpenSSL into every worker process (about 20 MiB each).
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "channels_lite",
    "django_q",
    "django_htmx",
    "ninja",
    "axes",
    "opsconsole",
    "metrics",
    "alerts",
    "healthchecks",
    "notifications",
    "oncall",
    "dashboard",
]

MIDDLEWARE = [
    # First: the time it reports covers every other middleware and the view.
    "opsconsole.timing.ServerTimingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "opsconsole.csp.ContentSecurityPolicyMiddleware",
    # Before anything reads the session or a view runs: NUL characters and huge integers
    # get a 400 with the reason instead of a database error.
    "opsconsole.inputguard.RefuseUnstorableInput",
    # A view that got no pooled connection in time: a 503 with Retry-After, not a 500.
    "opsconsole.overload.BusyDatabaseMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # After authentication: records who edits rules and silences, for the audit stream.
    "opsconsole.audit.AuditActorMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "opsconsole.urls"
ASGI_APPLICATION = "opsconsole.asgi.application"

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
                "opsconsole.context_processors.console",
            ],
        },
    },
]

# --- Databases -------------------------------------------------------------------------
DATABASE_URL = envstr("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": database_from_url(DATABASE_URL, base_dir=BASE_DIR)}
else:
    DATABASES = {"default": sqlite_database(VAR_DIR / "opsconsole.sqlite3")}
SECRET_KEY = _secret_key()
# Generated into var/ (no SECRET_KEY given): right for one machine only.
SECRET_KEY_GENERATED = not envsecret("SECRET_KEY")
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Names each process in pg_stat_activity (web, worker, ticker, agent...).
    DATABASES["default"]["OPTIONS"].setdefault(
        "application_name", f"opsconsole-{envstr('OPSCONSOLE_PROCESS', 'web')}"
    )
    # Django's psycopg pool, one per process: a request, a task or a ticker round
    # borrows a connection and gives it back at its end. DATABASE_POOL_MAX_SIZE bounds
    # what one process holds (0: no pool, a connection per request, closed after it).
    DATABASE_POOL_MAX_SIZE = envint("DATABASE_POOL_MAX_SIZE", 10, minimum=0)
    if DATABASE_POOL_MAX_SIZE:
        from opsconsole.connections import pool_options

        DATABASES["default"]["OPTIONS"]["pool"] = pool_options(
            max_size=DATABASE_POOL_MAX_SIZE,
            min_size=envint("DATABASE_POOL_MIN_SIZE", 1, minimum=0),
            timeout=envfloat("DATABASE_POOL_TIMEOUT", 10.0, minimum=0.1),
            max_idle=envfloat("DATABASE_POOL_MAX_IDLE", 300.0, minimum=1.0),
        )
        # The pool's own check, of idle connections only (opsconsole.connections).
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = False

REDIS_URL = envstr("REDIS_URL")
# Seed 002's channel: every alert change published there as JSON (alerts.broadcast)
# when REDIS_URL is set; empty: publish nothing.
ALERT_BROADCAST_CHANNEL = envstr("ALERT_BROADCAST_CHANNEL", "alerts")
CHANNEL_LAYER_POLL_SECONDS = envfloat("CHANNEL_LAYER_POLL_SECONDS", 0.05, minimum=0.01)
if REDIS_URL:
    CHANNEL_LAYERS: dict[str, dict[str, Any]] = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py 8's async pool stops at 100 connections by default and would
                # refuse a reconnect storm; each consumer holds none, daphne holds a few.
                # Reads wait longer than the layer's blocking pop (5 s): redis-py 8's
                # default socket timeout is also 5 s, and a page's quiet channel then
                # failed every 6 s with a TimeoutError instead of simply waiting.
                "hosts": [{"address": REDIS_URL, "max_connections": 1000, "socket_timeout": 30}],
                "capacity": 1000,
                "expiry": 30,
            },
        }
    }
else:
    # A second SQLite file carries group_send between the workers and daphne; it is
    # kept apart from the main database so its polling never waits on metric writes.
    DATABASES["channels"] = sqlite_database(VAR_DIR / "channels.sqlite3")
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_lite.layers.core.SQLiteChannelLayer",
            "CONFIG": {
                "database": "channels",
                "polling_interval": CHANNEL_LAYER_POLL_SECONDS,
                "expiry": 30,
                "capacity": 1000,
            },
        }
    }
    DATABASE_ROUTERS = ["opsconsole.routers.ChannelLayerRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (the "latest" values per host) -------------------------------------------------
# Django's local caches keep 300 entries and then drop a third of them: at a few hundred
# hosts the "latest" values (one entry per host) went missing. Redis has no such limit.
CACHE_MAX_ENTRIES = envint("CACHE_MAX_ENTRIES", 50_000, minimum=300)
if REDIS_URL:
    CACHES: dict[str, dict[str, Any]] = {
        "default": {
            "BACKEND": "opsconsole.rediscache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "opsconsole",
            "OPTIONS": {
                # redis-py's default pool refuses a 101st concurrent user ("Too many
                # connections"), which 200 concurrent requests reached: the limit is
                # raised, as the channel layer's. (Not a blocking pool: a request
                # should not queue behind others for a cache connection.)
                "max_connections": envint("REDIS_CACHE_MAX_CONNECTIONS", 1000, minimum=1),
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "OPTIONS": {"MAX_ENTRIES": CACHE_MAX_ENTRIES},
        }
    }

# --- Task queue ------------------------------------------------------------------------
Q_BROKER = envstr("Q_BROKER", "orm").lower()
if Q_BROKER not in {"orm", "redis"}:
    raise ImproperlyConfigured(f"Q_BROKER={Q_BROKER!r} must be orm or redis")
if Q_BROKER == "redis" and not REDIS_URL:
    raise ImproperlyConfigured("Q_BROKER=redis needs REDIS_URL")
Q_CLUSTER = {
    "name": "opsconsole",
    # Embedded mode writes to one SQLite file, one writer at a time: a second worker
    # would mostly wait for the first, and costs about 25 MiB.
    "workers": envint("Q_WORKERS", 2 if DATABASE_URL else 1, minimum=1),
    "recycle": 500,
    # A task that runs longer than `timeout` is killed; the ORM broker hands a task out
    # again after `retry`, which must exceed `timeout` or a slow task runs twice.
    "timeout": 120,
    "retry": 180,
    "max_attempts": 2,
    "queue_limit": 20,
    "bulk": 5,
    "save_limit": 500,
    "catch_up": False,
    "ack_failures": True,
    "label": "Tasks",
    # The sentinel checks its processes and writes its status (to the cache) every cycle;
    # q2's 0.5 s is a fifth of an idle console's CPU. Task timeouts are counted in
    # these cycles too, which 2 s resolves well enough for a 120 s timeout.
    "guard_cycle": 2,
    "sync": envbool("Q_SYNC", False),
}
if Q_BROKER == "redis":
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    # The ORM broker polls its table; 0.5 s keeps it cheap at rest and within the
    # +-20 % the 5 s minimum collection interval allows.
    Q_CLUSTER["poll"] = envfloat("Q_POLL_SECONDS", 0.5, minimum=0.05)

# --- Auth ---------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Failed logins are throttled per account and per address (django-axes): after
# LOGIN_FAILURE_LIMIT failures either is refused, even with the right password, for
# LOGIN_LOCKOUT_MINUTES or until an admin deletes its access attempt (README, "Roles").
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=envint("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
# Two separate locks: one account from anywhere, and one address whatever it tries.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked.html"
# Every attempt is already in the audit stream; axes keeps only the counters.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "system_monitor"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# --- I18N / static ------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = envtimezone("TIME_ZONE", "UTC")
USE_I18N = True
# One date format with its zone on every page and in the admin (opsconsole/formats).
FORMAT_MODULE_PATH = ["opsconsole.formats"]
USE_TZ = True
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
# Serve static files from the finders in every mode: no collectstatic step to forget.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Batches from agents: refuse bodies over this size with 413 before parsing them.
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("INGEST_MAX_BODY_BYTES", 5 * 1024 * 1024, minimum=1024)

# --- Monitoring (seed 002's names) ---------------------------------------------------------
METRICS_COLLECTION_INTERVAL = envint("METRICS_COLLECTION_INTERVAL", 15, minimum=5)
HEALTH_CHECK_INTERVAL = envint("HEALTH_CHECK_INTERVAL", 60, minimum=5)
ALERT_EVALUATION_INTERVAL = envint("ALERT_EVALUATION_INTERVAL", 15, minimum=5)
# A pass reads the samples of the hosts that sent some since the last pass; every this
# many seconds it reads every host's (a backstop for anything a stamp missed).
ALERT_FULL_EVALUATION_SECONDS = envint("ALERT_FULL_EVALUATION_SECONDS", 300, minimum=15)
CPU_ALERT_THRESHOLD = envfloat("CPU_ALERT_THRESHOLD", 80.0, minimum=0)
MEMORY_ALERT_THRESHOLD = envfloat("MEMORY_ALERT_THRESHOLD", 85.0, minimum=0)
DISK_ALERT_THRESHOLD = envfloat("DISK_ALERT_THRESHOLD", 90.0, minimum=0)
RESPONSE_TIME_ALERT_THRESHOLD = envfloat("RESPONSE_TIME_ALERT_THRESHOLD", 5000.0, minimum=0)
# Silences in force, the endpoints' dependency graph and the routing table are read at
# most this often per process (a storm raises thousands of alerts a second); an edit
# saved in a process drops that process's copy at once.
CONFIG_CACHE_SECONDS = envfloat("CONFIG_CACHE_SECONDS", 1.0, minimum=0)
SERVICE_ENDPOINTS = envstr("SERVICE_ENDPOINTS")
METRICS_RETENTION_DAYS = envint("METRICS_RETENTION_DAYS", 30, minimum=1)
PROCESS_RETENTION_DAYS = envint("PROCESS_RETENTION_DAYS", 7, minimum=1)
# Raw samples stay one row each this long (the evaluator reads its windows there, and
# longer when an enabled rule's window is longer); closed hours before it are compacted
# into one row per series and hour (metrics.samples), ~15x smaller.
METRICS_NARROW_HOURS = envint("METRICS_NARROW_HOURS", 2, minimum=1)
# How often the compaction job runs (seconds).
METRICS_COMPACT_INTERVAL = envint("METRICS_COMPACT_INTERVAL", 300, minimum=10)
# Resolved and expired alerts (with their timeline and deliveries) kept this long; the
# alert patterns never look further back.
ALERT_RETENTION_DAYS = envint("ALERT_RETENTION_DAYS", 90, minimum=1)
# Minute roll-ups serve charts up to 7 days long (longer ones read hour roll-ups), so
# keeping them longer only grows the database.
ROLLUP_MINUTE_RETENTION_DAYS = envint("ROLLUP_MINUTE_RETENTION_DAYS", 8, minimum=1)
ROLLUP_HOUR_RETENTION_DAYS = envint("ROLLUP_HOUR_RETENTION_DAYS", 730, minimum=1)
# Roll-ups fold a minute once, this long after it closed, so samples arriving late (an
# agent's buffered batch) are in it; later ones stay in the raw samples only.
ROLLUP_GRACE_SECONDS = envint("ROLLUP_GRACE_SECONDS", 120, minimum=0)
# After ingest, each process updates the hosts' latest values, tells the live pages and
# wakes the evaluator at most this often, for every batch since, from a thread of its own
# (0: at once, after each request's commit, as the tests do).
INGEST_ANNOUNCE_SECONDS = envfloat("INGEST_ANNOUNCE_SECONDS", 0.25, minimum=0)
# A batch id is remembered this long: a batch resent within it (the agent never saw the
# answer) is answered as stored without touching the samples table.
INGEST_BATCH_ID_TTL = envint("INGEST_BATCH_ID_TTL", 3600, minimum=1)
TOP_PROCESSES = envint("TOP_PROCESSES", 10, minimum=1)
COLLECT_LOCAL_HOST = envbool("COLLECT_LOCAL_HOST", True)
# Service health checks (healthchecks app).
HEALTH_RESULT_RETENTION_DAYS = envint("HEALTH_RESULT_RETENTION_DAYS", 7, minimum=1)
HEALTH_QUEUE_MAX_AGE_SECONDS = envint("HEALTH_QUEUE_MAX_AGE_SECONDS", 60, minimum=1)
HEALTH_PING_RATE_PER_MINUTE = envint("HEALTH_PING_RATE_PER_MINUTE", 60, minimum=1)
LATENCY_ALERT_THRESHOLD_MS = envfloat("LATENCY_ALERT_THRESHOLD_MS", 200.0, minimum=0)
LATENCY_RETENTION_DAYS = envint("LATENCY_RETENTION_DAYS", 7, minimum=1)
DB_SLOW_QUERY_SECONDS = envfloat("DB_SLOW_QUERY_SECONDS", 60.0, minimum=0.1)
LOCAL_HOSTNAME = envstr("OPSCONSOLE_HOSTNAME", socket.gethostname())

# --- Notifications ---------------------------------------------------------------------
# Hosts (names, IPs or CIDR networks) that channel URLs may reach although they resolve
# to loopback, private or link-local addresses, e.g. an internal mail relay or webhook.
NOTIFY_ALLOWED_HOSTS = envlist("NOTIFY_ALLOWED_HOSTS", [])
NOTIFY_MAX_ATTEMPTS = envint("NOTIFY_MAX_ATTEMPTS", 8, minimum=1)
NOTIFY_RETRY_BASE_SECONDS = envfloat("NOTIFY_RETRY_BASE_SECONDS", 10.0, minimum=0.1)
NOTIFY_RETRY_MAX_SECONDS = envfloat("NOTIFY_RETRY_MAX_SECONDS", 900.0, minimum=1)
# A claimed message whose worker has not recorded an outcome by then is sent again.
NOTIFY_LEASE_SECONDS = envint("NOTIFY_LEASE_SECONDS", 60, minimum=5)
NOTIFY_HTTP_TIMEOUT = envfloat("NOTIFY_HTTP_TIMEOUT", 10.0, minimum=0.1)
NOTIFY_SWEEP_INTERVAL = envint("NOTIFY_SWEEP_INTERVAL", 5, minimum=1)
# The delivery lane (``manage.py deliver``, the "notify" process under serve): threads
# sending at once, how many rows one claim takes, and how often an idle lane looks at
# the outbox. Kept apart from the q2 workers, so a storm of messages never delays a
# collection or an evaluation.
NOTIFY_THREADS = envint("NOTIFY_THREADS", 4, minimum=1)
NOTIFY_CLAIM_BATCH = envint("NOTIFY_CLAIM_BATCH", 20, minimum=1)
NOTIFY_POLL_SECONDS = envfloat("NOTIFY_POLL_SECONDS", 0.5, minimum=0.05)
# A due message waiting longer than this raises "Notifications are not leaving the
# console" (no delivery lane running, or one that cannot keep up).
NOTIFY_STALL_SECONDS = envint("NOTIFY_STALL_SECONDS", 300, minimum=30)
# Send on commit in the process that made the change, with no delivery lane: for the
# test suite and one-off scripts.
NOTIFY_INLINE = envbool("NOTIFY_INLINE", False)

# --- On call ---------------------------------------------------------------------------
# How long an Acknowledge / Resolve link in a message to a person keeps working.
ONCALL_LINK_MAX_AGE_HOURS = envfloat("ONCALL_LINK_MAX_AGE_HOURS", 24.0, minimum=0.1)
# How often the ticker asks whether an escalation step is due.
ONCALL_TICK_SECONDS = envfloat("ONCALL_TICK_SECONDS", 5.0, minimum=1.0)
# Slack's app signing secret (Basic Information → App Credentials), for its buttons.
SLACK_SIGNING_SECRET = envsecret("SLACK_SIGNING_SECRET", "")
NOTIFY_REPEAT_INTERVAL = envint("NOTIFY_REPEAT_INTERVAL", 4 * 3600, minimum=60)
# Seed 003's cooldowns: a fingerprint re-fired within this time on a channel waits.
NOTIFY_COOLDOWN_SECONDS = {
    "info": envint("NOTIFY_COOLDOWN_INFO", 300, minimum=0),
    "warning": envint("NOTIFY_COOLDOWN_WARNING", 300, minimum=0),
    "error": envint("NOTIFY_COOLDOWN_ERROR", 120, minimum=0),
    "critical": envint("NOTIFY_COOLDOWN_CRITICAL", 60, minimum=0),
}
NOTIFY_CIRCUIT_FAILURES = envint("NOTIFY_CIRCUIT_FAILURES", 5, minimum=1)
NOTIFY_CIRCUIT_OPEN_SECONDS = envint("NOTIFY_CIRCUIT_OPEN_SECONDS", 300, minimum=1)
EMAIL_HOST = envstr("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = envsecret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = envbool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "opsconsole@localhost")

# --- Error tracking ------------------------------------------------------------------------
# Unhandled errors always become application error alerts (opsconsole/errors.py); with
# SENTRY_DSN they also go to Sentry, scrubbed of secrets and financial data.
SENTRY_DSN = envsecret("SENTRY_DSN")
if SENTRY_DSN:
    from opsconsole.errors import init_sentry

    init_sentry(
        SENTRY_DSN,
        traces_sample_rate=envfloat("SENTRY_TRACES_SAMPLE_RATE", 0.0, minimum=0),
        environment=envstr("SENTRY_ENVIRONMENT", "production"),
    )

# --- Prometheus ------------------------------------------------------------------------------
# GET /metrics asks for "Authorization: Bearer <METRICS_TOKEN>" when this is set.
METRICS_TOKEN = envsecret("METRICS_TOKEN")
# /metrics stays bounded at fleet size: a host not seen for this long leaves the per-host
# series (its last values would only repeat), and they can be turned off altogether when
# Prometheus scrapes the agents' hosts itself (node_exporter); the fleet counts remain.
METRICS_HOST_SERIES = envbool("METRICS_HOST_SERIES", True)
METRICS_HOST_SERIES_MAX_AGE = envint("METRICS_HOST_SERIES_MAX_AGE", 3600, minimum=1)
# An existing Prometheus to read history from (opsconsole/promquery.py).
PROMETHEUS_URL = envstr("PROMETHEUS_URL").rstrip("/")
PROMETHEUS_TIMEOUT = envfloat("PROMETHEUS_TIMEOUT", 10.0, minimum=0.1)
# The System Monitor charts read Prometheus when PROMETHEUS_URL is set: by default the
# console's own exported series; per chart metric, a PromQL template with a {host}
# placeholder instead (e.g. node_exporter's series). metrics.apps checks the keys.
PROMETHEUS_CHART_QUERIES = envtemplates("PROMETHEUS_CHART_QUERIES", "{host}", "{host_regex}")

# --- Logging -------------------------------------------------------------------------------
LOG_LEVEL = envloglevel("LOG_LEVEL", "INFO")
# json: one object per line for log shippers; text: readable lines. By default, text on
# a terminal (a developer's `make run`) and json anywhere else (systemd, containers).
LOG_FORMAT = envstr("LOG_FORMAT", "text" if sys.stderr.isatty() else "json").lower()
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} must be json or text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {
            "()": "opsconsole.logs.TextFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "json": {"()": "opsconsole.logs.JsonFormatter", "hostname": LOCAL_HOSTNAME},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        # q2 logs every enqueue and pick-up at INFO; the tasks log their own outcome.
        "django-q": {"level": envloglevel("Q_LOG_LEVEL", "WARNING")},
        # HTTP clients log each request's URL at INFO, and a Slack, Discord or Telegram
        # URL is itself the secret; Twilio's logs its request parameters.
        "httpx": {"level": "WARNING"},
        # The pool logs every failed reconnect while the database is away; the request
        # that found no connection logs the failure, and the database check raises it.
        "psycopg.pool": {"level": "ERROR"},
        "httpcore": {"level": "WARNING"},
        "twilio": {"level": "WARNING"},
        "apprise": {"level": "WARNING"},
        # A "log" channel's messages: whatever LOG_LEVEL, a message sent is a line written.
        "opsconsole.alerts": {"level": "DEBUG"},
    },
}

os.environ.setdefault("OPSCONSOLE_PROCESS", "web")
