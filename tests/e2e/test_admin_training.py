"""Staff in a real browser: start a quick training job from the admin, watch
its progress bar reach the end (a real worker trains it), activate the new
version, and look at the accuracy history."""

import re

from django.conf import settings
from playwright.sync_api import Page, expect

from tests.broker import send_tasks_to_queue
from tests.e2e.traffic import ARTIFACTS
from training.models import ModelActivation, ModelVersion, TrainingJob

PASSWORD = "a-staff-password-for-the-browser-test"


def log_in(page: Page, site: str, username: str) -> None:
    page.goto(f"{site}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_be_visible()


def test_staff_retrain_watch_activate_and_read_the_history(
    site, active_model, page: Page, start_celery_worker, mnist_cache, monkeypatch,
    django_user_model,
):  # fmt: skip
    queue = start_celery_worker(
        MODEL_STORE_DIR=str(settings.MODEL_STORE_DIR),
        MNIST_CACHE_DIR=str(mnist_cache),
        TRAINING_ACTIVATION_POLICY="manual",
    )
    # The live server runs in this process: send its jobs to this test's worker.
    send_tasks_to_queue(monkeypatch, queue)
    django_user_model.objects.create_superuser(username="staff", password=PASSWORD)
    log_in(page, site, "staff")
    expect(page.get_by_role("link", name="Accuracy history")).to_be_visible()

    page.goto(f"{site}/admin/training/trainingjob/add/")
    page.select_option("#id_preset", "quick")
    page.fill("#id_epochs", "2")
    page.fill("#id_max_train_samples", "3000")
    page.click("input[value='Start training']")

    expect(page).to_have_url(re.compile(r"/admin/training/trainingjob/\d+/change/$"))
    progress = page.locator("#job-progress")
    seen = {float(progress.get_attribute("value"))}
    for _ in range(600):
        if page.locator("text=Produced").count():
            break
        if progress.count():
            seen.add(float(progress.get_attribute("value") or 0))
        page.wait_for_timeout(100)
    expect(page.get_by_text(re.compile(r"Job \d+: succeeded"))).to_be_visible(timeout=60_000)
    assert float(page.locator("#job-progress").get_attribute("value")) == 100.0
    assert len(seen) >= 2, f"the bar never moved: {seen}"  # it advanced while we watched
    expect(page.locator(".job-log")).to_contain_text("registered v2")
    # Once it has ended the page reloads itself, so the fields show the end too.
    expect(page.locator("#content h2").first).to_contain_text("(succeeded)", timeout=10_000)
    expect(page.get_by_role("button", name="Cancel this job")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "admin-training-job.png"), full_page=True)
    job = TrainingJob.objects.get()
    assert job.status == "succeeded" and len(job.metrics) == 2

    page.get_by_role("link", name="v2", exact=True).first.click()
    expect(page.locator(".version-summary")).to_contain_text("How v2 does")
    # Per-class and confusion (MNIST), loss and accuracy; and the same two for
    # the held-out writers' drawings when the job had the pen-drawn digits.
    charts = 4 if ModelVersion.objects.get(version=2).canvas_accuracy is None else 6
    expect(page.locator("figure.chart svg")).to_have_count(charts)
    page.screenshot(path=str(ARTIFACTS / "admin-version-detail.png"), full_page=True)

    page.get_by_role("link", name="Activate…").click()
    page.fill("#id_reason", "browser test")
    page.click("input[value='Yes, activate v2']")
    expect(page.locator(".messagelist")).to_contain_text(re.compile("v2 is now active", re.I))
    assert ModelVersion.objects.get(is_active=True).version == 2
    assert ModelActivation.objects.first().reason == "browser test"

    page.goto(f"{site}/admin/training/modelversion/accuracy/")
    expect(page.locator("figure.chart svg")).to_be_visible()
    expect(page.locator(".accuracy-history table").first).to_contain_text("v2")
    page.screenshot(path=str(ARTIFACTS / "admin-accuracy-history.png"), full_page=True)
