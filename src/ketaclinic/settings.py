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
    "ketaclinic.web",
    "ketaclinic.api",
    "ketaclinic.devdata",
    # Django's own widget templates, for the form renderer below (it renders through TEMPLATES).
    "django.forms",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
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
            ],
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
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
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
# Re-authentication (before sensitive changes) asks for the password, never a code sent to the
# mailbox: whoever reads a clinician's email must not pass for the clinician. allauth 65.22 added
# the code method and enables it by default.
ACCOUNT_REAUTHENTICATION_METHODS = ("password",)
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[ketaclinic] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if MODE == "production" else "http"

# --- Second factor (issue 15 item 1; accounts/mfa_gate.py) ----------------------------------

# --- Automatic log-off (issue 15 item 2; accounts/session_timeout.py) -----------------------

# --- Client address behind proxies (issue 15 item 5; audit/services.py client_ip) ------------

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
MEDIA_ROOT = VAR_DIR / "media"
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
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL and not TESTING:
    CACHES["default"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
    }

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}

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

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 60 * 60)
SESSION_COOKIE_SECURE = MODE == "production" and env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
)

# --- Hardened responses (issue 15 item 6; lib/middleware.py) --------------------------------

# The ninja API answers 429 past this many scoring requests per client address and minute.
API_SCORE_RATE = env_str("API_SCORE_RATE", "60/m")

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "stream": sys.stderr, "formatter": "plain"}
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # Request logs carry URLs only; patient data never appears in a URL (see docs/architecture.md).
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# The API's per-client throttle keys on REMOTE_ADDR: X-Forwarded-For is whatever the client says.
NINJA_NUM_PROXIES = 0
