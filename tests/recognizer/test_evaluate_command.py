from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import ROOT
from training.bundle import bundled_model_install

pytestmark = pytest.mark.django_db

USPS = ROOT.parent / "shared" / "datasets" / "usps" / "zip.test.gz"


@pytest.fixture
def bundled(settings, tmp_path, mnist_cache):
    settings.MODEL_STORE_DIR = tmp_path
    return bundled_model_install()


@pytest.mark.skipif(not USPS.is_file(), reason=f"USPS test set not at {USPS}")
def test_evaluate_reports_mnist_and_usps_through_the_drawing_preprocessing(bundled):
    out = StringIO()

    call_command("evaluate", "--usps", str(USPS), stdout=out)

    text = out.getvalue()
    assert "Model v1 on the MNIST test set: 10000 images" in text
    assert "Model v1 on the USPS test set (MNIST-style preprocessing): 2007 images" in text
    assert text.count("Confusion matrix") == 2
    usps_accuracy = float(text.split("USPS test set")[1].split("accuracy ")[1].split("%")[0])
    assert usps_accuracy >= 98.0


def test_evaluate_skips_usps_with_a_message_when_the_file_is_absent(bundled, tmp_path):
    out = StringIO()

    call_command("evaluate", "--usps", str(tmp_path / "none.gz"), stdout=out)

    assert "USPS skipped: no file at" in out.getvalue()


def test_evaluate_without_an_active_model_says_so():
    with pytest.raises(CommandError, match="No model version is active"):
        call_command("evaluate")


def test_evaluate_an_unknown_version_says_so():
    with pytest.raises(CommandError, match="no model version 42"):
        call_command("evaluate", "--version", "42")
