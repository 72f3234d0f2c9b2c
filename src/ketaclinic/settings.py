"""The one settings module: every value comes from a typed environment variable.

Modes (``KETACLINIC_MODE``):
- ``production`` (the default): fails closed; SECRET_KEY and ALLOWED_HOSTS must be set.
- ``demo``: what ``make run`` uses; a fixed development key, the demo log-ins work.
- ``test``: what the test suite uses.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import dj_database_url

from ketaclinic.lib.env import (
    ConfigurationError,
    env_addresses,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent.parent
VAR_DIR = Path(env_str("KETACLINIC_VAR_DIR", str(PROJECT_DIR / "var")))

MODE = env_choice("KETACLINIC_MODE", "production", ("production", "demo", "test"))
DEMO_MODE = MODE in {"demo", "test"} and env_bool("KETACLINIC_DEMO", True)
TESTING = MODE == "test"
DEBUG = env_bool("DEBUG", False)
if MODE == "production" and DEBUG:
    # Debug pages show settings, SQL and the data of the request to whoever caused the error.
    raise ConfigurationError(
        "DEBUG=true is refused in production: error pages would show settings and patient "
        "data. Unset DEBUG, or set KETACLINIC_MODE=demo to debug on this machine only."
    )

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if MODE == "production":
        raise ConfigurationError(
            "SECRET_KEY is not set. Set SECRET_KEY (or SECRET_KEY_FILE) to a long random value, "
            "or set KETACLINIC_MODE=demo to run the demo clinic on this machine only."
        )
    # Only reachable in demo and test modes, which refuse to run with real patients' data
    # exposed beyond localhost (ALLOWED_HOSTS below).
    SECRET_KEY = "ketaclinic-demo-key-not-for-production-" + MODE

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", [] if MODE == "production" else ["127.0.0.1", "localhost", "testserver"]
)
if MODE == "production" and not ALLOWED_HOSTS:
    raise ConfigurationError("ALLOWED_HOSTS is not set: list the host names this server answers.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# The clinic (its slug) whose brand public pages show (landing, self-check, booking, error
# pages); unset, the oldest clinic's (clinics/brand.py).
SITE_CLINIC = env_str("SITE_CLINIC")

# Privacy retention: anonymous self-checks never attached to a patient, and used or expired email
# links, are deleted by daily jobs after this many days.
SELFCHECK_RETENTION_DAYS = env_int("SELFCHECK_RETENTION_DAYS", 30)
ACTION_LINK_RETENTION_DAYS = env_int("ACTION_LINK_RETENTION_DAYS", 30)
# Anonymous self-check submissions stored per client address ("count/s|m|h|d").
SELFCHECK_SUBMIT_RATE = env_str("SELFCHECK_SUBMIT_RATE", "20/h")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",  # serves its API docs from its own static files instead of a CDN
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_tasks",
    "django_tasks_db",
    # SMART on FHIR's authorization server (fhir/oauth.py): its applications, grants and tokens.
    "oauth2_provider",
    # Shared building blocks; an app for its one table, the periodic jobs' claims (lib/models.py).
    "ketaclinic.lib",
    "ketaclinic.accounts",
    "ketaclinic.clinics",
    "ketaclinic.patients",
    "ketaclinic.audit",
    "ketaclinic.screening",
    "ketaclinic.scheduling",
    "ketaclinic.assessments",
    "ketaclinic.plans",
    "ketaclinic.infusions",
    "ketaclinic.outcomes",
    "ketaclinic.analytics",
    "ketaclinic.fhir",
    "ketaclinic.web",
    "ketaclinic.api",
    "ketaclinic.devdata",
    # Django's own widget templates, for the form renderer below (it renders through TEMPLATES).
    "django.forms",
]

# --- SMART on FHIR (fhir/oauth.py; docs/operations.md "FHIR API") ----------------------------

OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER: dict[str, Any] = {
    "SCOPES_BACKEND_CLASS": "ketaclinic.fhir.oauth.SmartScopes",
    "OAUTH2_VALIDATOR_CLASS": "ketaclinic.fhir.oauth.SmartValidator",
    # Every authorization-code grant proves its PKCE verifier (SMART App Launch 2.0).
    "PKCE_REQUIRED": True,
    "ACCESS_TOKEN_EXPIRE_SECONDS": env_int("FHIR_ACCESS_TOKEN_SECONDS", 60 * 60),
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "REFRESH_TOKEN_EXPIRE_SECONDS": 90 * 24 * 60 * 60,
    # A patient confirms each app she lets in; nothing is granted without her seeing it.
    "REQUEST_APPROVAL_PROMPT": "force",
    # A refresh token used twice (stolen and replayed) revokes its whole family of tokens.
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    # Redirects to a plain-http address only away from production (a developer's machine).
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"] if MODE == "production" else ["https", "http"],
    # RFC 9700 (the OAuth 2.0 security best practice) enforced, not merely warned about: no
    # implicit or password grants, no PKCE "plain", no token in a query string, the issuer in
    # each authorization response, tokens stored hashed; and check --deploy fails on a setting
    # that would loosen them.
    **{
        f"COMPLIANT_BCP_RFC9700_{gate}": True
        for gate in (
            "IMPLICIT_GRANT",
            "PASSWORD_GRANT",
            "PKCE_METHOD",
            "ACCESS_TOKEN_TRANSPORT",
            "AUTHZ_RESPONSE_ISS",
            "TOKEN_STORAGE",
            "REFRESH_TOKEN",
            "REDIRECT_URI_SCHEME",
            "REDIRECT_URI_MATCHING",
            "PKCE_REQUIRED",
        )
    },
}
# Bulk Data exports (fhir/bulk.py): their NDJSON files are deleted this long after the export
# finished (the Bulk Data Access IG leaves the time to the server; a day lets a nightly
# extraction retry the next morning).
FHIR_EXPORT_RETENTION_HOURS = env_int("FHIR_EXPORT_RETENTION_HOURS", 24)

MIDDLEWARE = [
    # First, so that it times everything below (web/metrics.py, served at /metrics).
    "ketaclinic.web.metrics.RequestMetricsMiddleware",
    # Each request's id, in its log lines, its error report and the X-Request-ID header.
    "ketaclinic.lib.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response (CONTENT_SECURITY_POLICY below).
    "csp.middleware.CSPMiddleware",
    # no-store on authenticated responses, Permissions-Policy (issue 15 item 6).
    "ketaclinic.lib.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Idle and absolute time-outs end the session before anything else sees the user.
    "ketaclinic.accounts.session_timeout.SessionTimeoutMiddleware",
    # Deny by default: every view needs a log-in unless marked @login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Staff without a second factor go to enrolment before any page with patient data.
    "ketaclinic.accounts.mfa_gate.StaffMFARequiredMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "ketaclinic.urls"
WSGI_APPLICATION = "ketaclinic.wsgi.application"

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
                "ketaclinic.web.context_processors.navigation",
                "ketaclinic.web.context_processors.brand",
            ],
            # lib is no app: its template tags are named here ({% load when %}).
            "libraries": {
                "units": "ketaclinic.lib.templatetags.units",
                "when": "ketaclinic.lib.templatetags.when",
            },
        },
    }
]
# One field template and one error summary for every form (lib/renderers.py).
FORM_RENDERER = "ketaclinic.lib.renderers.FormRenderer"


def _database(url: str) -> dict[str, Any]:
    config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=0))
    if config["ENGINE"] == "django.db.backends.sqlite3":
        if config["NAME"] != ":memory:":
            Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        # WAL lets readers work while one writer commits; IMMEDIATE takes the write lock at
        # BEGIN, so two writers queue instead of failing with "database is locked" mid-way.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            ),
        }
    else:
        config["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60)
        config["CONN_HEALTH_CHECKS"] = True
    return config


DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'ketaclinic.sqlite3'}")
DATABASES = {"default": _database(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "ketaclinic.accounts.backends.ClinicAuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        # ASVS 5.0 V6.2.1: at least 12 characters. Django's validators run in every password
        # form (allauth's sign-up, change and reset, the staff invitation's join form).
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    # Hashing is deliberately slow; tests create many users.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "home"
ACCOUNT_ADAPTER = "ketaclinic.accounts.adapter.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_LOGOUT_ON_GET = False
# Failed sign-ins (allauth's "login_failed"): 10 a minute per address whatever the account, and
# 5 in 5 minutes per account *from one address* (AccountAdapter._get_login_attempts_cache_key
# adds the address), so strangers elsewhere cannot lock a colleague out. The waste witness's
# password goes through the same limit (accounts/identity.py).
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
# Re-authentication (before sensitive changes) asks for the password, never a code sent to the
# mailbox: whoever reads a clinician's email must not pass for the clinician. allauth 65.22 added
# the code method and enables it by default. "mfa" lets allauth's code page (mfa_reauthenticate)
# run: before a signature accounts/reauth.py asks for the password AND, where enrolled, the code.
ACCOUNT_REAUTHENTICATION_METHODS = ("password", "mfa")
# How long a sign-in or a re-authentication counts before a signature asks again (allauth's
# default, written out: issue 15 item 3, accounts/reauth.py).
ACCOUNT_REAUTHENTICATION_TIMEOUT = 300
# Account emails carry no product prefix: they come from the clinic, by name
# (accounts/adapter.py ``format_email_subject``).
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if MODE == "production" else "http"

# --- Second factor (issue 15 item 1; accounts/mfa_gate.py) ----------------------------------

# An authenticator app (TOTP) with recovery codes, and security keys or passkeys (WebAuthn) as a
# second factor. Staff must have one before any other page (accounts/mfa_gate.py); patients may.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
# The name the authenticator app shows beside the code, so staff can tell it from other accounts.
MFA_TOTP_ISSUER = env_str("MFA_TOTP_ISSUER", "ketaclinic")
# A code typed in its last second arrives in the next 30 s step: accept the step before and after
# (RFC 6238 §5.2 allows one for transmission delay). Each code still works once (allauth
# remembers it for the whole 90 s), and sign-in attempts are rate-limited.
MFA_TOTP_TOLERANCE = 1
# Browsers allow WebAuthn only on https or http://localhost; allauth's origin check also wants
# https, so the demo and the tests (http://localhost) relax it. Never in production.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = MODE != "production"
# Passkeys are a second factor here, not a way to sign in without the password.
MFA_PASSKEY_LOGIN_ENABLED = False
# Every browser asks for the code at each sign-in: shared clinic workstations are the norm, and a
# "trust this browser" cookie there would trust whoever sits down next.
MFA_TRUST_ENABLED = False
MFA_ADAPTER = "ketaclinic.accounts.mfa.MFAAdapter"


# --- Automatic log-off (issue 15 item 2; accounts/session_timeout.py) -----------------------

# In seconds. A session ends after this long without a request (staff keep patient data open on
# shared workstations all day, so theirs is the shorter) and, whatever the activity, this long
# after signing in. Pages warn SESSION_TIMEOUT_WARNING_SECONDS before and offer to stay signed in.
SESSION_IDLE_TIMEOUT_STAFF_SECONDS = env_int("SESSION_IDLE_TIMEOUT_STAFF_SECONDS", 15 * 60)
SESSION_IDLE_TIMEOUT_PATIENT_SECONDS = env_int("SESSION_IDLE_TIMEOUT_PATIENT_SECONDS", 30 * 60)
SESSION_ABSOLUTE_TIMEOUT_SECONDS = env_int("SESSION_ABSOLUTE_TIMEOUT_SECONDS", 12 * 60 * 60)
SESSION_TIMEOUT_WARNING_SECONDS = env_int("SESSION_TIMEOUT_WARNING_SECONDS", 60)
for _limit in (
    "SESSION_IDLE_TIMEOUT_STAFF_SECONDS",
    "SESSION_IDLE_TIMEOUT_PATIENT_SECONDS",
    "SESSION_ABSOLUTE_TIMEOUT_SECONDS",
    "SESSION_TIMEOUT_WARNING_SECONDS",
):
    if globals()[_limit] < 1:
        raise ConfigurationError(f"{_limit}: expected a number of seconds of at least 1.")

# --- Client address behind proxies (issue 15 item 5; audit/services.py client_ip) ------------

# How many reverse proxies, each appending the address it saw to X-Forwarded-For, stand between
# the internet and this server. 0 (the default): REMOTE_ADDR is the client, and the header, which
# anyone can send, is ignored. Too high a count lets a client choose its address (and so dodge
# rate limits and forge the audit trail); too low makes every user the proxy.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
if TRUSTED_PROXY_COUNT < 0:
    raise ConfigurationError("TRUSTED_PROXY_COUNT: expected 0 or more proxies.")
# django-ninja's own reading of the header follows the same count; the API throttle itself keys
# on client_ip (api/api.py).
NINJA_NUM_PROXIES = TRUSTED_PROXY_COUNT

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "America/New_York")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
# whitenoise warns on every request when the directory is missing (before collectstatic runs).
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if TESTING or DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Uploaded and generated files (logos, progress letters) go through the default storage. With
# several web nodes this directory must be shared by all of them and the workers (a network mount),
# or STORAGES["default"] an object store: docs/operations.md "One machine or many".
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))

# --- Backups (web/backup/; docs/operations.md "Backups") ------------------------------------

# A 32-byte key, base64 (`ketaclinic backup --new-key`): set, every backup is encrypted with it
# (AES-256-GCM) and restore needs it. Keep it apart from the backups (BACKUP_ENCRYPTION_KEY_FILE
# names a file): whoever has both reads every record; losing it loses every backup made with it.
BACKUP_ENCRYPTION_KEY = env_str("BACKUP_ENCRYPTION_KEY").strip()
if BACKUP_ENCRYPTION_KEY:
    import base64 as _base64
    import binascii as _binascii

    try:
        _backup_key_bytes = len(_base64.b64decode(BACKUP_ENCRYPTION_KEY, validate=True))
    except _binascii.Error:
        _backup_key_bytes = 0
    if _backup_key_bytes != 32:
        # The value itself is never echoed: it is a secret, and may be a near miss of the key.
        raise ConfigurationError(
            "BACKUP_ENCRYPTION_KEY: expected 32 bytes in base64 (44 characters; "
            "`ketaclinic backup --new-key` makes one)."
        )
# Tests run against the finder so they need no collectstatic step.
WHITENOISE_USE_FINDERS = TESTING or DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

CACHES: dict[str, dict[str, Any]] = {
    "default": (
        {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
        if TESTING
        # Rate limits must be shared by every web worker process, so the default is the
        # database (``ketaclinic createcachetable``); REDIS_URL moves it to Redis.
        else {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "cache"}
    )
}
# --- One machine or many (docs/operations.md "One machine or many") --------------------------

# Without REDIS_URL everything shared lives in the database: the task queue (django-tasks-db), the
# cache (rate limits, brands) and the sessions. With it, for several web nodes and workers: the
# cache and the task queue move to Redis, and sessions are read through it. Tests keep the
# database and locmem whatever REDIS_URL says, so one suite runs on both layouts; tests/scaleout/
# switches RQ on where it tests it (TASKS_BACKEND=rq for the worker process it starts).
REDIS_URL = env_str("REDIS_URL")
USE_REDIS = bool(REDIS_URL) and not TESTING
if USE_REDIS:
    CACHES["default"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
    }
    # The database stays the sessions' truth and Redis answers the reads: a Redis restart (or
    # an eviction) signs nobody out.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# Drawn diary charts (``outcomes.diary.chart_cache``) and the analytics' kept figures
# (``analytics.selectors.clinic_analytics``) have a cache of their own, so thousands of charts
# never push the rate limits out of the default one: the database cache culls a third of
# its rows, in key order, once it holds MAX_ENTRIES. Same place as the default (its own table,
# ``createcachetable`` makes it; or Redis, under its own key prefix).
CACHES["charts"] = (
    {**CACHES["default"], "KEY_PREFIX": "charts"}
    if USE_REDIS
    else {**CACHES["default"], "LOCATION": "chart_cache", "OPTIONS": {"MAX_ENTRIES": 50_000}}
)

# "database" (django-tasks-db: ``ketaclinic worker`` polls the table) or "rq" (Redis:
# ``ketaclinic worker`` runs an RQ worker with RQ's scheduler for delayed jobs). REDIS_URL picks
# rq unless TASKS_BACKEND says otherwise.
TASKS_BACKEND = env_choice("TASKS_BACKEND", "rq" if USE_REDIS else "database", ("database", "rq"))
if TASKS_BACKEND == "rq" and not REDIS_URL:
    raise ConfigurationError("TASKS_BACKEND=rq needs REDIS_URL (redis://host:6379/0).")
if REDIS_URL:
    # django-rq's queues (the RQ backend and tests/scaleout/ use them). A job runs at most this
    # long before RQ kills it (RQ's own default, 3 minutes, is short of a full results refresh
    # of a chain-sized clinic).
    RQ_QUEUES = {
        "default": {
            "URL": REDIS_URL,
            "DEFAULT_TIMEOUT": env_int("TASK_TIMEOUT_SECONDS", 60 * 60),
        }
    }
    # RQ runs a job through django-tasks-rq's class, which calls the task and sends its signals.
    RQ = {"JOB_CLASS": "django_tasks_rq.Job"}
# How often an RQ worker looks for jobs whose worker died, to run them again: such a job runs
# again within about this + 90 s (lib/rq_recovery.py; RQ's own default is ten minutes and more).
TASK_RECOVERY_SECONDS = env_int("TASK_RECOVERY_SECONDS", 60)
if TASKS_BACKEND == "rq":
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
else:
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}

EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if MODE == "production"
    else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ketaclinic <no-reply@ketaclinic.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Who is emailed when a page fails (a 500): "Name <ops@clinic.example>, it@clinic.example". The
# report holds no request data and no variables (lib/logs.py AdminErrorEmailHandler).
ADMINS = env_addresses("ADMINS")
EMAIL_SUBJECT_PREFIX = "[ketaclinic] "

SESSION_COOKIE_HTTPONLY = True
# The cookie lasts as long as a session may; the server ends an idle one sooner
# (accounts/session_timeout.py).
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_TIMEOUT_SECONDS
SESSION_COOKIE_SECURE = MODE == "production" and env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
)

# --- Hardened responses (issue 15 item 6; lib/middleware.py) --------------------------------

# Production answers HTTPS only: plain HTTP is redirected, and browsers are told (HSTS) never to
# try plain HTTP again for a year. The health check stays reachable over HTTP so a load
# balancer probing the container directly gets its answer instead of a redirect.
SECURE_SSL_REDIRECT = MODE == "production" and env_bool("SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = (
    env_int("SECURE_HSTS_SECONDS", 365 * 24 * 60 * 60) if MODE == "production" else 0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# Preloading puts the domain on the browsers' built-in HTTPS list, which takes months to undo:
# the operator opts in, so `check --deploy` is told not to ask for it (SILENCED_SYSTEM_CHECKS).
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS: list[str] = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

# One strict policy in every mode, so the whole test suite runs under it: no inline script or
# style anywhere (charts are SVG with presentation attributes, the schedule grid uses classes).
CONTENT_SECURITY_POLICY: dict[str, Any] = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
# Powerful browser features nobody here uses are off; passkeys (WebAuthn) work on this site only.
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), "
    "publickey-credentials-get=(self), publickey-credentials-create=(self)"
)

# The ninja API answers 429 past this many scoring requests per client address and minute.
API_SCORE_RATE = env_str("API_SCORE_RATE", "60/m")

# --- Health, metrics, logs (web/health.py, web/metrics.py, lib/logs.py) ---------------------

# /metrics answers only a scraper sending "Authorization: Bearer <METRICS_TOKEN>"; unset, it is
# off (404). docs/operations.md "Health and metrics".
METRICS_TOKEN = env_str("METRICS_TOKEN").strip()  # a trailing newline would never match
if METRICS_TOKEN and len(METRICS_TOKEN) < 24:
    raise ConfigurationError(
        "METRICS_TOKEN: expected at least 24 characters (a random value, e.g. "
        "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`)."
    )
# Days the record of each background job's run is kept (web/tasks.py job_run_purge).
JOB_RUN_RETENTION_DAYS = env_int("JOB_RUN_RETENTION_DAYS", 14)
if JOB_RUN_RETENTION_DAYS < 1:
    raise ConfigurationError("JOB_RUN_RETENTION_DAYS: expected a number of days of at least 1.")
# "json": one JSON object a line (time, level, logger, message, request_id, exception).
LOG_FORMAT = env_choice("LOG_FORMAT", "plain", ("plain", "json"))

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "ketaclinic.lib.logs.JsonFormatter"},
    },
    # Request logs ("Not Found: /path") name paths: query strings are dropped and tokens and
    # keys in paths masked before any handler writes them (lib/access_log.py).
    "filters": {
        "mask_paths": {"()": "ketaclinic.lib.access_log.MaskPathsFilter"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": sys.stderr,
            "formatter": LOG_FORMAT,
            "filters": ["mask_paths"],
        },
        # Request errors (500s) to ADMINS, without patient data; never in DEBUG (the page shows
        # the error there).
        "mail_admins": {
            "class": "ketaclinic.lib.logs.AdminErrorEmailHandler",
            "level": "ERROR",
            "filters": ["require_debug_false", "mask_paths"],
        },
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Their DEBUG lines carry the tokens, codes and refresh tokens they issue: never
        # written, whatever LOG_LEVEL asks.
        "oauthlib": {"level": "INFO"},
        "oauth2_provider": {"level": "INFO"},
        # Django's default config gives these their own handlers, which would write the same
        # paths unmasked (django.request through "django" when DEBUG, runserver's request lines
        # through "django.server"): only the filtered console handler writes them here.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.request": {"handlers": ["mail_admins"], "level": "INFO", "propagate": True},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
