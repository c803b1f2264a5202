"""An S3-compatible bucket as a Django storage (django-storages' S3Storage),
configured the one way this project uses it: for the settings, and for the
tests that run it against a local S3 server."""

from typing import Any


def s3_storage(
    bucket: str,
    *,
    endpoint_url: str = "",
    region: str = "",
    access_key: str = "",
    secret_key: str = "",
    timeout_seconds: float = 5.0,
    overwrite: bool = False,
) -> dict[str, Any]:
    """A STORAGES entry for `bucket`. Empty arguments leave the choice to
    boto3 (AWS S3, its default region, its own credential chain).
    `overwrite`: a key written twice holds the last bytes; without it the
    storage checks that a key is free (one more request per file) and
    renames."""
    from botocore.config import Config

    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint_url or None,
            "region_name": region or None,
            "access_key": access_key or None,
            "secret_key": secret_key or None,
            "file_overwrite": overwrite,
            # A store that does not answer fails a load in seconds rather
            # than hanging the process that waits for it; path-style
            # addresses work with every S3-compatible server.
            "client_config": Config(
                s3={"addressing_style": "path"},
                connect_timeout=timeout_seconds,
                read_timeout=timeout_seconds,
                retries={"max_attempts": 2, "mode": "standard"},
            ),
        },
    }


class StorageUnavailable(Exception):
    """A storage the request needs failed or did not answer: the API answers
    503 `storage_unavailable` (mnistsite/api/errors.py)."""
