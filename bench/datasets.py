"""The optional data sets, named by the same variables as for the site and
the tests: PENDIGITS_DIR (UCI's pen-drawn digits) and USPS_TEST (the USPS
test split, zip.test.gz)."""

import os
from pathlib import Path


def dataset_path(variable: str) -> Path | None:
    """The path the environment variable names; None when it is not set."""
    value = os.environ.get(variable)
    return Path(value) if value else None
