"""The one settings module. Every knob is an environment variable, each
described once, with its default, in `.env.example`; defaults are the embedded
set-up that `make run` uses: SQLite, Celery over the filesystem, a file cache, all under
`var/`. Setting DATABASE_URL / CELERY_BROKER_URL / REDIS_URL moves the same code
onto PostgreSQL and Redis.
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from mnistsite.env import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_rate,
    env_str,
)
from mnistsite.object_storage import s3_storage

BASE_DIR = Path(__file__).resolve().parent.parent

# Never inside the package; ignored by git.
VAR_DIR = Path(env_str("DJANGO_VAR_DIR", str(BASE_DIR / "var"))).resolve()

# --- Core -------------------------------------------------------------------

# Off unless asked for: `make run` turns it on, production never does.
DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off "
            "(make run and make test set DJANGO_DEBUG / a test key for you)."
        )
    SECRET_KEY = "django-insecure-local-development-only-never-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "mnistsite",
    "training",
    "recognizer",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "mnistsite.security.ContentSecurityPolicyMiddleware",
    "mnistsite.security.RefuseNulInQueryMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as its documentation asks: it answers a locked-out login attempt.
    "axes.middleware.AxesMiddleware",
]

# --- Login lockout (django-axes) -------------------------------------------

# Every password login (the admin's) goes through axes first, so a locked-out
# user name or address is refused even with the right password.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "mnistsite.clients.client_address"
AXES_LOCKOUT_CALLABLE = "mnistsite.error_pages.login_locked_out"

ROOT_URLCONF = "mnistsite.urls"
WSGI_APPLICATION = "mnistsite.wsgi.application"
ASGI_APPLICATION = "mnistsite.asgi.application"

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

# --- Database ---------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
try:
    _database = dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from None

if _database["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, workers, beat) share one file: WAL lets readers
    # run beside a writer, IMMEDIATE transactions take the write lock up front
    # so two writers queue on `timeout` instead of failing with "locked".
    _database["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so that worker processes started by tests see it.
    _database["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
elif _database["ENGINE"] == "django.db.backends.postgresql":
    _database.setdefault("OPTIONS", {})["connect_timeout"] = env_int(
        "DATABASE_CONNECT_TIMEOUT", 5, minimum=1
    )
DATABASES = {"default": _database}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (and with it, throttling counters) -------------------------------

REDIS_URL = env_str("REDIS_URL")
# Short socket timeouts: a Redis that stops answering must fail a cache call
# fast instead of hanging a web request.
REDIS_SOCKET_TIMEOUT = env_float("REDIS_SOCKET_TIMEOUT", 1.0, minimum=0.05)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "mnistsite",
            "OPTIONS": {
                "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
                "socket_timeout": REDIS_SOCKET_TIMEOUT,
            },
        }
    }
else:
    # Needs no server and is shared by every process of `make run`.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Celery -----------------------------------------------------------------

# Without a broker URL the workers talk through files under var/ (kombu's
# filesystem transport): nothing to install, one machine only.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "filesystem://localhost/")
BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem:"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Producers write where consumers read: one folder for both.
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than the longest training job, so an unacknowledged (still
        # running) task is not handed to a second worker.
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3 * 3600, minimum=60),
        "socket_connect_timeout": REDIS_SOCKET_TIMEOUT * 2,
        # A broker that accepts connections but answers nothing (hung, or a
        # half-open connection) must not hold a publishing web request: without
        # this a publish waits forever. Workers are not affected: they wait for
        # messages through their event loop, not a blocking read.
        "socket_timeout": REDIS_SOCKET_TIMEOUT,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("CELERY_BROKER_CONNECTION_TIMEOUT", 2.0, minimum=0.1)
# Enqueueing from a web request gives up quickly instead of blocking the
# request while the broker is away: at once when it refuses connections,
# after a few socket timeouts (about 3 s) when it hangs. The one retry is for
# a pooled connection that died when the broker restarted.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "training.tasks.train_job_task": {"queue": "training"},
    "recognizer.tasks.batch_run_task": {"queue": "inference"},
}
# Tasks write their outcome to the database; nobody reads Celery results.
CELERY_TASK_IGNORE_RESULT = True
# Acknowledge after the task ran, one message at a time: a killed worker's
# message is delivered again, and tasks claim their work so that is harmless.
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

TRAINING_STALE_AFTER_SECONDS = env_int("TRAINING_STALE_AFTER_SECONDS", 300, minimum=10)
TRAINING_SOFT_TIME_LIMIT_SECONDS = env_int("TRAINING_SOFT_TIME_LIMIT_SECONDS", 3600, minimum=60)
TRAINING_ACTIVATION_POLICY = env_choice("TRAINING_ACTIVATION_POLICY", "auto", ("auto", "manual"))
# 0.003 is 0.3 percentage points, about 4 of the canvas set's 1,499 drawings:
# run-to-run noise, not a version that reads people worse.
TRAINING_ACTIVATION_CANVAS_MARGIN = env_float(
    "TRAINING_ACTIVATION_CANVAS_MARGIN", 0.003, minimum=0.0
)

# --- Inference batches ------------------------------------------------------

BATCH_MAX_UPLOAD_BYTES = env_int("BATCH_MAX_UPLOAD_BYTES", 64 * 1024 * 1024, minimum=1024)
BATCH_MAX_UNPACKED_BYTES = env_int(
    "BATCH_MAX_UNPACKED_BYTES", 256 * 1024 * 1024, minimum=1024 * 1024
)
# Large arrays split well over threads.
INFERENCE_BATCH_THREADS = env_int("INFERENCE_BATCH_THREADS", 2, minimum=1)
BATCH_HEARTBEAT_SECONDS = env_float("BATCH_HEARTBEAT_SECONDS", 5.0, minimum=0.1)
BATCH_STALE_AFTER_SECONDS = env_int("BATCH_STALE_AFTER_SECONDS", 60, minimum=5)
if BATCH_STALE_AFTER_SECONDS < 4 * BATCH_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured(
        "BATCH_STALE_AFTER_SECONDS must be at least 4 x BATCH_HEARTBEAT_SECONDS, so that a "
        "working batch is never taken for a stalled one."
    )
BATCH_MAX_ATTEMPTS = env_int("BATCH_MAX_ATTEMPTS", 3, minimum=1)
# Off unless allowed: callbacks let API users make this server send requests.
BATCH_CALLBACKS_ENABLED = env_bool("BATCH_CALLBACKS_ENABLED", False)
BATCH_CALLBACK_TIMEOUT_SECONDS = env_float("BATCH_CALLBACK_TIMEOUT_SECONDS", 5.0, minimum=0.1)
BATCH_CALLBACK_MAX_RETRIES = env_int("BATCH_CALLBACK_MAX_RETRIES", 5, minimum=0)
# Off unless allowed: a callback must be no way into this server's network.
BATCH_CALLBACK_ALLOW_PRIVATE_HOSTS = env_bool("BATCH_CALLBACK_ALLOW_PRIVATE_HOSTS", False)

RETRAIN_ON_FEEDBACK_MIN_LABELS = env_int("RETRAIN_ON_FEEDBACK_MIN_LABELS", 0, minimum=0)

CELERY_BEAT_SCHEDULE = {
    "retrain-on-feedback": {
        "task": "training.tasks.retrain_on_feedback_task",
        "schedule": env_float("RETRAIN_ON_FEEDBACK_INTERVAL_SECONDS", 300.0, minimum=1),
    },
    "reap-stale-training-jobs": {
        "task": "training.tasks.reap_stale_jobs_task",
        "schedule": env_float("TRAINING_REAP_INTERVAL_SECONDS", 60.0, minimum=1),
    },
    "resume-stale-batches": {
        "task": "recognizer.tasks.resume_stale_batches_task",
        "schedule": env_float("BATCH_REAP_INTERVAL_SECONDS", 30.0, minimum=1),
    },
    "flush-pending-images": {
        "task": "recognizer.tasks.flush_pending_images_task",
        "schedule": 60.0,
    },
    "expire-submission-originals": {
        "task": "recognizer.tasks.expire_originals_task",
        "schedule": 3600.0,
    },
    "clear-expired-sessions": {
        "task": "mnistsite.tasks.clear_expired_sessions_task",
        "schedule": 24 * 3600.0,
    },
}

# --- REST framework ---------------------------------------------------------

# A good API token is remembered this long (mnistsite/api/token_cache.py), so
# a request with it costs a cache read instead of a database query; deleting
# the token or saving its user drops it at once. 0: asked every time.
TOKEN_CACHE_SECONDS = env_int("TOKEN_CACHE_SECONDS", 60, minimum=0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: an API client without credentials gets 401, not 403.
        "mnistsite.api.access.TokenAuthentication",
        "mnistsite.api.access.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_rate("THROTTLE_ANON_RATE", "120/min"),
        "user": env_rate("THROTTLE_USER_RATE", "1200/min"),
        "preview": env_rate("THROTTLE_PREVIEW_RATE", "600/min"),
        "token_failures": env_rate("THROTTLE_TOKEN_FAILURE_RATE", "20/min"),
        "sessions": env_rate("THROTTLE_SESSION_RATE", "60/min"),
    },
    # 0 unless set: a client must not pick its own identity by sending
    # X-Forwarded-For (DRF's own default trusts the header).
    "NUM_PROXIES": env_int("THROTTLE_NUM_PROXIES", 0, minimum=0),
    "EXCEPTION_HANDLER": "mnistsite.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": [
        "mnistsite.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "mnistsite API",
    "DESCRIPTION": (
        "Handwritten digit recognition: single predictions, inference batches, model "
        "versions and training jobs. Errors are JSON objects with a machine-readable "
        "`code`, a human `message` and per-field `details`."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and Redoc from drf-spectacular-sidecar's static files, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "mnistsite.api.schema.add_default_error_response",
    ],
}

# --- Predictions ------------------------------------------------------------

PREDICTION_MAX_IMAGE_BYTES = env_int("PREDICTION_MAX_IMAGE_BYTES", 5 * 1024 * 1024, minimum=1024)
PREDICTION_MAX_DECODED_BYTES = env_int(
    "PREDICTION_MAX_DECODED_BYTES", 32 * 1024 * 1024, minimum=1024 * 1024
)
PREDICTOR_REFRESH_SECONDS = env_float("PREDICTOR_REFRESH_SECONDS", 0.5, minimum=0.05)
# One image is too small to split, and web processes run side by side.
PREDICTOR_THREADS = env_int("PREDICTOR_THREADS", 1, minimum=1)
PREDICTOR_WARM_ON_START = env_bool("PREDICTOR_WARM_ON_START", True)

# --- Models and data --------------------------------------------------------

MODEL_STORE_DIR = Path(env_str("MODEL_STORE_DIR", str(VAR_DIR / "models"))).resolve()
# Object storage for model files instead of MODEL_STORE_DIR, so that processes
# on several hosts share them; each host then reads them through a verified
# copy in MODEL_CACHE_DIR (training/model_store.py).
MODEL_STORE_BUCKET = env_str("MODEL_STORE_BUCKET")
MODEL_CACHE_DIR = Path(env_str("MODEL_CACHE_DIR", str(VAR_DIR / "model-cache"))).resolve()
OBJECT_STORAGE_ENDPOINT_URL = env_str("OBJECT_STORAGE_ENDPOINT_URL")
OBJECT_STORAGE_REGION = env_str("OBJECT_STORAGE_REGION")
OBJECT_STORAGE_ACCESS_KEY_ID = env_str("OBJECT_STORAGE_ACCESS_KEY_ID")
OBJECT_STORAGE_SECRET_ACCESS_KEY = env_str("OBJECT_STORAGE_SECRET_ACCESS_KEY")
OBJECT_STORAGE_TIMEOUT_SECONDS = env_float("OBJECT_STORAGE_TIMEOUT_SECONDS", 5.0, minimum=0.1)
# Submission images in object storage instead of MEDIA_ROOT (same endpoint
# and credentials as the model store).
SUBMISSION_STORE_BUCKET = env_str("SUBMISSION_STORE_BUCKET")
# Files written at once when a batch stores its images: each is a round trip
# to an object store.
SUBMISSION_STORE_THREADS = env_int("SUBMISSION_STORE_THREADS", 8, minimum=1)
# While the store is down, a prediction's images are kept in the database
# (recognizer/services/submission_images.py), up to this many bytes in all;
# beyond, predictions are refused (503) until the store answers.
SUBMISSION_BACKLOG_MAX_BYTES = env_int(
    "SUBMISSION_BACKLOG_MAX_BYTES", 512 * 1024 * 1024, minimum=1024 * 1024
)
# What people uploaded is deleted after this many days (0: kept for ever);
# the 28x28 the model saw is kept, for retraining.
SUBMISSION_ORIGINAL_RETENTION_DAYS = env_int("SUBMISSION_ORIGINAL_RETENTION_DAYS", 90, minimum=0)
MNIST_DIR = env_str("MNIST_DIR")
MNIST_CACHE_DIR = Path(
    env_str("MNIST_CACHE_DIR", str(Path.home() / ".cache" / "mnistsite"))
).expanduser()
PENDIGITS_DIR = env_str("PENDIGITS_DIR")
PENDIGITS_CACHE_DIR = Path(env_str("PENDIGITS_CACHE_DIR", str(MNIST_CACHE_DIR))).expanduser()
HEALTH_CHECK_TIMEOUT_SECONDS = env_float("HEALTH_CHECK_TIMEOUT_SECONDS", 1.5, minimum=0.1)

# --- Static files -----------------------------------------------------------

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles"))).resolve()
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Model files (training/model_store.py): the folder MODEL_STORE_DIR.
    "models": {"BACKEND": "training.model_store.ModelStoreFolder"},
    # Submission images (recognizer/submission_store.py): the folder
    # MEDIA_ROOT. Keys are never reused for other bytes, so a file written
    # again (a resumed batch) is overwritten rather than renamed.
    "submissions": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"allow_overwrite": True},
    },
    # Hashed, compressed names in production (after collectstatic); plain
    # files straight from the source folders while developing.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "mnistsite.storage.StaticFilesStorage"
    },
}
_object_storage = {
    "endpoint_url": OBJECT_STORAGE_ENDPOINT_URL,
    "region": OBJECT_STORAGE_REGION,
    "access_key": OBJECT_STORAGE_ACCESS_KEY_ID,
    "secret_key": OBJECT_STORAGE_SECRET_ACCESS_KEY,
    "timeout_seconds": OBJECT_STORAGE_TIMEOUT_SECONDS,
}
if MODEL_STORE_BUCKET:
    STORAGES["models"] = s3_storage(MODEL_STORE_BUCKET, **_object_storage)
if SUBMISSION_STORE_BUCKET:
    STORAGES["submissions"] = s3_storage(SUBMISSION_STORE_BUCKET, **_object_storage, overwrite=True)
WHITENOISE_USE_FINDERS = DEBUG
# Submission images when no SUBMISSION_STORE_BUCKET is set. Never served as
# URLs: people's drawings are shown to staff through the admin only.
MEDIA_ROOT = Path(env_str("DJANGO_MEDIA_ROOT", str(VAR_DIR / "media"))).resolve()
MEDIA_URL = "media/"

# --- Security ---------------------------------------------------------------

# Defaults assume production sits behind TLS; a plain-HTTP deployment (the
# local docker compose) turns these off explicitly.
_https = not DEBUG
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", _https)
# Load balancers probe over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", _https)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000 if _https else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
if env_bool("DJANGO_SECURE_PROXY_SSL_HEADER", False):
    # Only behind a proxy that sets this header itself and strips it from clients.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Styles may be inline: the SVG charts and the API docs set style attributes.
CONTENT_SECURITY_POLICY = env_str(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
)
SESSION_COOKIE_HTTPONLY = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Locale -----------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Logging ----------------------------------------------------------------

LOG_LEVEL = env_choice(
    "DJANGO_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}

# The embedded set-up's folders must exist before SQLite or the filesystem
# broker touch them; creating them here keeps every entry point (web, worker,
# beat, manage.py) equal. Deployments on PostgreSQL + Redis create nothing.
if _database["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
if CELERY_BROKER_URL.startswith("filesystem:"):
    for _folder in (BROKER_DIR / "queue", BROKER_DIR / "control"):
        _folder.mkdir(parents=True, exist_ok=True)
