"""Settings shared by every peer role. Test use only: DEBUG, loopback, SQLite."""
import json
import os

ROLE = os.environ["VARCO_SPID_ROLE"]  # ta, op_spid, op_cie, rp
DB_PATH = os.environ["VARCO_SPID_DB"]
TRUST_ANCHOR = os.environ["VARCO_SPID_TA"]

SECRET_KEY = os.environ.get("VARCO_SPID_SECRET", "varco-spid-peers-test-only")
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "bootstrap_italia_template",
    "djagger",
    "spid_cie_oidc.accounts",
    "spid_cie_oidc.entity",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DB_PATH,
        # several runserver threads write the same file
        "OPTIONS": {"timeout": 20},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "spid_cie_oidc_accounts.User"

# All peers share the host 127.0.0.1, and browsers do not separate cookies
# by port: every role needs cookie names of its own.
SESSION_COOKIE_NAME = f"varco_{ROLE}_sessionid"
CSRF_COOKIE_NAME = f"varco_{ROLE}_csrftoken"
LANGUAGE_COOKIE_NAME = f"varco_{ROLE}_language"
SESSION_COOKIE_SAMESITE = "Lax"

LANGUAGE_CODE = "en"
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "/static/"

# Federation: one trust anchor, given by the launcher.
OIDCFED_TRUST_ANCHORS = [TRUST_ANCHOR]
OIDCFED_DEFAULT_TRUST_ANCHOR = TRUST_ANCHOR
OIDCFED_REQUIRED_TRUST_MARKS = json.loads(
    os.environ.get("VARCO_SPID_REQUIRED_TRUST_MARKS", "[]")
)
HTTPC_TIMEOUT = 8

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": f"%(asctime)s {ROLE} %(levelname)s %(name)s: %(message)s"}
    },
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "spid_cie_oidc": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "django": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}
