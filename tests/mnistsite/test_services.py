"""The suite runs on whatever services the environment names. CI names
PostgreSQL and Redis and sets MNISTSITE_EXPECT_SERVICES, so a CI run that
silently fell back to SQLite or files fails here instead of passing."""

import os
import uuid

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection

EXPECTED = {name for name in os.environ.get("MNISTSITE_EXPECT_SERVICES", "").split(",") if name}


def test_the_cache_round_trips_through_the_configured_backend():
    key = f"roundtrip-{uuid.uuid4().hex}"

    cache.set(key, {"digit": 7}, timeout=30)

    assert cache.get(key) == {"digit": 7}
    cache.delete(key)
    assert cache.get(key) is None


@pytest.mark.skipif(not EXPECTED, reason="MNISTSITE_EXPECT_SERVICES not set (CI sets it)")
@pytest.mark.django_db
def test_the_run_uses_the_services_it_was_promised():
    if "postgres" in EXPECTED:
        assert connection.vendor == "postgresql"
        with connection.cursor() as cursor:
            cursor.execute("SELECT version()")
            assert "PostgreSQL" in cursor.fetchone()[0]
    if "redis" in EXPECTED:
        assert settings.CELERY_BROKER_URL.startswith("redis://")
        assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
        key = f"seen-in-redis-{uuid.uuid4().hex}"
        cache.set(key, 1, timeout=30)
        # The cache's key as Redis stores it: "<KEY_PREFIX>:<version>:<key>".
        stored = redis.Redis.from_url(settings.REDIS_URL).exists(cache.make_key(key))
        cache.delete(key)
        assert stored == 1
