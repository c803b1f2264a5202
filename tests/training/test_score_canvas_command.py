"""`manage.py score_canvas` gives versions without a canvas score (or scored
on another canvas set) one on the held-out writers' drawings."""

import functools
import io

import pytest
from django.core.management import CommandError, call_command

from tests.training.test_datasets import unreachable_url
from training.ml import pendigits
from training.ml.pendigits import read_pendigits
from training.models import ModelVersion

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("score_canvas", *args, stdout=out, stderr=out)
    return out.getvalue()


def test_a_version_without_a_canvas_score_gets_one_and_then_nothing_is_left(
    active_model, pendigits_dir, settings, tmp_path
):
    settings.PENDIGITS_DIR = str(pendigits_dir)
    settings.PENDIGITS_CACHE_DIR = tmp_path / "pendigits-cache"
    ModelVersion.objects.filter(pk=active_model.pk).update(
        canvas_accuracy=None,
        canvas_per_class_accuracy=[],
        canvas_confusion_matrix=[],
        canvas_set_sha256="",
    )

    first = run()
    second = run()

    active_model.refresh_from_db()
    canvas = read_pendigits(pendigits_dir).canvas_set
    assert first.startswith("v1: canvas accuracy ")
    assert active_model.canvas_set_sha256 == canvas.sha256
    assert active_model.canvas_accuracy > 0.95
    assert sum(map(sum, active_model.canvas_confusion_matrix)) == 1499
    assert second == "Every model version has a canvas score on this canvas set.\n"


def test_without_pen_drawn_digits_it_says_what_was_tried(settings, tmp_path, monkeypatch):
    settings.PENDIGITS_DIR = str(tmp_path)
    settings.PENDIGITS_CACHE_DIR = tmp_path / "pendigits-cache"
    monkeypatch.setattr(
        "training.job_data.fetch_pendigits",
        functools.partial(pendigits.fetch_pendigits, url=unreachable_url()),
    )

    with pytest.raises(CommandError, match="could not be fetched from any source"):
        run()
