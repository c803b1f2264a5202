"""The drawing page in a real browser: draw, see the prediction, give feedback,
undo and clear, and the messages for a missing model or an unreachable server."""

import json
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from recognizer.models import Submission
from tests.e2e.drawing import ONE, PLUS, SEVEN, ZERO, draw, ink_pixels
from tests.e2e.traffic import ARTIFACTS, PREDICTIONS_PATH, ApiTraffic
from training.admin.charts import percent
from training.models import ModelVersion

PREDICTIONS = f"**{PREDICTIONS_PATH}**"

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


def stored_digit(page: Page) -> int:
    """Wait for the stored prediction of the current drawing; its digit."""
    result = page.locator("#result[data-state=stored]")
    expect(result).to_be_visible(timeout=20_000)  # the first one loads the model
    return int(result.get_attribute("data-digit"))


def settle(traffic: ApiTraffic, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while traffic.in_flight and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not traffic.in_flight, "API requests still pending"


def test_drawn_digits_are_recognised_stored_and_take_feedback(
    page: Page, site: str, active_model, traffic: ApiTraffic
):
    page.goto(site)
    expect(page.locator("#model-line")).to_contain_text("Serving model version 1")
    expect(page.locator("#model-line")).to_contain_text(
        f"test accuracy {percent(active_model.test_accuracy)}"
    )
    expect(page.locator("#model-line")).to_contain_text(
        f"and {percent(active_model.canvas_accuracy)} on digits drawn by people it never trained on"
    )

    draw(page, ONE)
    assert stored_digit(page) == 1
    first_id = int(page.locator("#result").get_attribute("data-prediction-id"))
    expect(page.locator("#digit")).to_have_text("1")
    expect(page.locator("#announce")).to_contain_text("The model reads 1")
    expect(page.locator(".bar--top")).to_have_attribute("data-digit", "1")
    page.get_by_role("button", name="Right").click()
    expect(page.locator("#feedback-status")).to_contain_text("Thank you")
    expect(page.locator("#feedback")).to_have_attribute("data-feedback-label", "1")

    page.get_by_role("button", name="Clear").click()
    expect(page.locator("#result")).to_have_attribute("data-state", "empty")
    draw(page, SEVEN)
    assert stored_digit(page) == 7
    page.screenshot(path=str(_artifact("seven")), full_page=True)

    page.get_by_role("button", name="Clear").click()
    draw(page, ZERO)
    assert stored_digit(page) == 0
    zero_id = int(page.locator("#result").get_attribute("data-prediction-id"))
    page.get_by_role("button", name="Wrong").click()
    picker = page.get_by_role("group", name="Which digit did you draw?")
    expect(picker).to_be_visible()
    picker.get_by_role("button", name="6").click()
    expect(page.locator("#feedback")).to_have_attribute("data-feedback-label", "6")
    expect(page.locator("#feedback-status")).to_contain_text("you drew 6")
    # Changing one's mind: the answer is replaced, not added.
    page.get_by_role("button", name="Right").click()
    expect(page.locator("#feedback")).to_have_attribute("data-feedback-label", "0")
    page.screenshot(path=str(_artifact("feedback")), full_page=True)
    settle(traffic)

    stored = list(Submission.objects.order_by("pk"))
    assert len(stored) == traffic.stored_created() == 3  # previews are not stored
    assert [row.digit for row in stored] == [1, 7, 0]
    assert {row.source for row in stored} == {"web"}
    assert {row.model_version.version for row in stored} == {1}
    labels = {row.pk: row.feedback_label for row in stored}
    assert labels == {first_id: 1, stored[1].pk: None, zero_id: 0}
    assert ("preview", 200) in traffic.statuses


def test_undo_and_clear_with_buttons_and_keys(page: Page, site: str, active_model):
    page.goto(site)
    undo = page.get_by_role("button", name="Undo stroke")
    clear = page.get_by_role("button", name="Clear")
    expect(undo).to_be_disabled()

    draw(page, PLUS)
    both = ink_pixels(page)
    undo.click()
    one = ink_pixels(page)
    assert 0 < one < both
    page.keyboard.press("Control+z")
    assert ink_pixels(page) == 0
    expect(undo).to_be_disabled()
    expect(page.locator("#result")).to_have_attribute("data-state", "empty")

    draw(page, PLUS)
    page.keyboard.press("Backspace")
    assert 0 < ink_pixels(page) < both
    page.keyboard.press("Escape")
    assert ink_pixels(page) == 0
    draw(page, SEVEN)
    clear.focus()
    page.keyboard.press("Enter")  # a real button, reachable and usable by keyboard
    assert ink_pixels(page) == 0
    expect(clear).to_be_disabled()


def test_undo_asks_again_for_what_is_left(page: Page, site: str, active_model):
    page.goto(site)
    draw(page, ONE)
    assert stored_digit(page) == 1
    draw(page, [[(100, 60), (190, 60)]])  # a bar on top of the 1: now a 7
    assert stored_digit(page) == 7
    page.keyboard.press("Control+z")
    expect(page.locator("#result[data-state=stored]")).to_have_attribute("data-digit", "1")


def test_an_answer_for_an_older_drawing_is_never_shown(
    page: Page, site: str, active_model, traffic: ApiTraffic
):
    page.goto(site)
    stored_digit_seen = []  # every (state, digit) the result panel went through
    page.expose_function(
        "recordResult", lambda state, digit: stored_digit_seen.append((state, digit))
    )
    page.evaluate(
        """() => new MutationObserver(() => {
             const result = document.getElementById("result");
             recordResult(result.dataset.state, result.dataset.digit);
           }).observe(document.getElementById("result"), {attributes: true})"""
    )
    draw(page, ONE)  # shows a preview, then the stored answer for the 1
    assert stored_digit(page) == 1
    # A slow network: the next stored answer (for the 1 with a bar on top)
    # is still on its way when the pen comes back down to finish the digit.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 1500, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    draw(page, [[(100, 60), (140, 60)]])
    page.wait_for_timeout(600)  # released 600 ms ago: the stored request is on its way
    assert traffic.in_flight
    draw(page, [[(140, 60), (190, 60)]])

    assert stored_digit(page) == 7
    settle(traffic)
    shown = int(page.locator("#result").get_attribute("data-prediction-id"))
    stored = list(Submission.objects.order_by("pk").values_list("pk", flat=True))
    assert len(stored) == traffic.stored_created() == 3
    assert shown == stored[-1]
    # The second stored answer came back after the drawing had changed: not shown.
    stored_states = [digit for state, digit in stored_digit_seen if state == "stored"]
    assert stored_states.count("7") == 1 and len(stored_states) == 2, stored_digit_seen


def test_without_an_active_model_the_page_and_drawing_say_so(page: Page, site: str, active_model):
    ModelVersion.objects.update(is_active=False)
    page.goto(site)
    expect(page.locator("#model-line")).to_contain_text("No model version is active yet")

    draw(page, ONE)

    status = page.locator("#status[data-code=no_active_model]")
    expect(status).to_contain_text("No model version is active")
    expect(page.locator("#feedback")).to_be_hidden()
    assert Submission.objects.count() == 0


def test_server_trouble_is_explained(page: Page, site: str):
    def answer_with(status: int, body: dict | str, headers: dict[str, str] | None = None) -> None:
        page.unroute(PREDICTIONS)
        text = body if isinstance(body, str) else json.dumps(body)
        content_type = "text/html" if isinstance(body, str) else "application/json"
        page.route(
            PREDICTIONS,
            lambda route: route.fulfill(
                status=status, body=text, headers={"Content-Type": content_type, **(headers or {})}
            ),
        )

    page.goto(site)
    page.route(PREDICTIONS, lambda route: route.abort("connectionrefused"))
    draw(page, ONE)
    expect(page.locator("#status[data-code=unreachable]")).to_contain_text("cannot be reached")
    retry = page.get_by_role("button", name="Try again")
    expect(retry).to_be_visible()

    answer_with(502, "<html>Bad gateway</html>")
    retry.click()
    expect(page.locator("#status[data-code=server_error]")).to_contain_text("HTTP 502")

    answer_with(400, {"code": "no_ink", "message": "The image has no ink: draw a digit."})
    page.keyboard.press("Escape")
    draw(page, SEVEN)
    status = page.locator("#status[data-code=no_ink]")
    expect(status).to_contain_text("no ink")
    expect(status).to_have_attribute("data-kind", "info")  # a hint, not an error

    answer_with(429, {"code": "throttled", "message": "Slow down."}, {"Retry-After": "7"})
    page.keyboard.press("Escape")
    draw(page, ONE)
    expect(page.locator("#status[data-code=throttled]")).to_contain_text("Wait 7 seconds")


def test_phone_shows_the_whole_pad_and_takes_a_finger(new_page, site: str, active_model):
    phone = {"width": 360, "height": 740}
    page = new_page(viewport=phone, device_scale_factor=2, is_mobile=True, has_touch=True)
    page.goto(site)
    pad = page.locator("#pad").bounding_box()
    assert pad is not None
    assert pad["x"] >= 0 and pad["x"] + pad["width"] <= phone["width"]
    assert pad["y"] >= 0 and pad["y"] + pad["height"] <= phone["height"]
    assert pad["width"] >= 250  # big enough to draw on with a finger
    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= phone["width"], "the page scrolls sideways on a phone"

    draw(page, SEVEN, touch=True)

    assert stored_digit(page) == 7
    assert page.evaluate("window.scrollY") == 0  # touching the pad did not scroll the page


def _artifact(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{name}.png"
