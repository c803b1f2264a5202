"""The model versions in the admin: the list, a version's pictures,
compare, confirmed activation and rollback with history, accuracy history,
and the canvas score everywhere a version is shown (training/admin/versions.py)."""

import re

import pytest
from django.contrib.auth.models import Permission

from tests.conftest import HttpsClient
from tests.training.admin.conftest import (
    OTHER_CANVAS_SET,
    field,
    give_canvas_score,
    take_canvas_score,
)
from training.admin.charts import percent
from training.models import ModelActivation, ModelVersion
from training.services import version_activate

pytestmark = pytest.mark.django_db


def test_the_changelist_shows_test_and_live_accuracy(staff, versions):
    bundled, _ = versions
    page = staff.get("/admin/training/modelversion/").content.decode()

    assert "v1" in page and "v2" in page
    assert percent(bundled.test_accuracy) in page and "99.01 %" in page
    assert "66.67 % of 3" in page  # two of three feedback labels agreed with v1
    assert "Accuracy history" in page and "Roll back" in page


def test_a_version_page_has_its_pictures(staff, versions):
    _, second = versions

    page = staff.get(f"/admin/training/modelversion/{second.pk}/change/").content.decode()

    assert page.count('<figure class="chart">') == 4  # per-class, confusion, loss, accuracy
    assert "confusion matrix" in page and "loss per epoch" in page
    assert "Compare with v1" in page and "Activate…" in page


def test_compare_shows_the_per_digit_differences(staff, versions):
    _, second = versions

    page = staff.get(f"/admin/training/modelversion/{second.pk}/compare/").content.decode()

    assert "<svg" in page and "difference (points)" in page
    assert "-4." in page  # digit 9: 95 % against the bundled model's 99.x %


def test_activation_asks_first_then_records_who_and_why(staff, versions, admin_user):
    _, second = versions
    url = f"/admin/training/modelversion/{second.pk}/activate/"

    question = staff.get(url)
    assert ModelVersion.objects.get(is_active=True).version == 1
    answer = staff.post(url, {"reason": "better on 3s"})

    assert question.status_code == 200 and b"Yes, activate v2" in question.content
    assert answer.status_code == 302
    assert ModelVersion.objects.get(is_active=True).version == 2
    activation = ModelActivation.objects.first()
    assert (activation.version, activation.activated_by, activation.reason) == (
        second, admin_user, "better on 3s",
    )  # fmt: skip
    history = staff.get(f"/admin/training/modelversion/{second.pk}/change/").content.decode()
    assert "better on 3s" in history


def test_the_activate_action_goes_to_the_confirmation(staff, versions):
    _, second = versions

    response = staff.post(
        "/admin/training/modelversion/",
        {"action": "activate_selected", "_selected_action": [second.pk]},
    )

    assert response.status_code == 302
    assert response["Location"].endswith(f"/{second.pk}/activate/")
    assert ModelVersion.objects.get(is_active=True).version == 1


def test_rollback_returns_to_the_previous_version(staff, versions):
    version_activate(version=2, reason="try")
    action = staff.post(
        "/admin/training/modelversion/",
        {"action": "roll_back", "_selected_action": [versions[1].pk]},
    )
    assert action["Location"].endswith("/admin/training/modelversion/rollback/")

    question = staff.get("/admin/training/modelversion/rollback/")
    staff.post("/admin/training/modelversion/rollback/")

    assert b"Roll back to v1" in question.content
    assert ModelVersion.objects.get(is_active=True).version == 1
    assert ModelActivation.objects.first().reason == "rollback in the admin"


def test_the_accuracy_history_page(staff, versions):
    version_activate(version=2, reason="try")

    page = staff.get("/admin/training/modelversion/accuracy/").content.decode()

    assert "<svg" in page and "test accuracy (MNIST)" in page and "live accuracy" in page
    assert "66.67 %" in page and "Activation timeline" in page and "try" in page
    assert "3 new feedback labels" in page
    index = staff.get("/admin/").content.decode()
    assert "/admin/training/modelversion/accuracy/" in index


@pytest.mark.parametrize(
    "url",
    [
        "/admin/training/modelversion/",
        "/admin/training/modelversion/accuracy/",
        "/admin/training/trainingjob/add/",
    ],
)
def test_the_pages_are_refused_to_others(client, django_user_model, url):
    anonymous = client.get(url)
    user = django_user_model.objects.create_user(username="visitor", password="x" * 12)
    client.force_login(user)
    not_staff = client.get(url)

    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    assert not_staff.status_code == 302


def test_staff_without_the_change_permission_cannot_activate(versions, django_user_model):
    viewer = django_user_model.objects.create_user(username="viewer", password="x" * 12,
                                                   is_staff=True)  # fmt: skip
    viewer.user_permissions.add(Permission.objects.get(codename="view_modelversion"))
    client = HttpsClient()
    client.force_login(viewer)
    _, second = versions

    response = client.post(f"/admin/training/modelversion/{second.pk}/activate/")

    assert response.status_code == 403
    assert ModelVersion.objects.get(is_active=True).version == 1


# --- canvas score -------------------------------------------------------------


def test_the_changelist_shows_the_canvas_accuracy_and_a_dash_without_one(staff, versions):
    take_canvas_score(versions[0])
    give_canvas_score(versions[1], 0.9713, [0.97] * 10)

    page = staff.get("/admin/training/modelversion/").content.decode()

    assert "Canvas accuracy" in page  # the column's header
    assert field(page, "canvas_accuracy_shown") == ["97.13 %", "—"]  # v2, then v1


def test_the_changelist_orders_by_canvas_accuracy(staff, versions):
    _, second = versions
    third = ModelVersion.objects.create(version=3, architecture="cnn_small")
    give_canvas_score(second, 0.95, [0.95] * 10)
    give_canvas_score(third, 0.9713, [0.97] * 10)
    page = staff.get("/admin/training/modelversion/").content.decode()
    order = re.search(r'column-canvas_accuracy_shown">.*?<a href="(\?o=[^"]+)"', page, re.S)

    ordered = staff.get(f"/admin/training/modelversion/{order.group(1)}").content.decode()

    assert field(page, "version_label")[:2] == ["v3", "v2"]  # newest first by default
    versions_shown = field(ordered, "version_label")
    assert versions_shown.index("v2") < versions_shown.index("v3")  # 95.00 % before 97.13 %


def test_version_page_shows_the_canvas_accuracy_beside_the_test_accuracy(staff, versions):
    _, second = versions
    give_canvas_score(second, 0.9713, [0.97] * 10)

    page = staff.get(f"/admin/training/modelversion/{second.pk}/change/").content.decode()

    facts = page[page.index('<dl class="facts">') : page.index("</dl>")]
    assert "Test accuracy (10,000 MNIST test digits)</dt><dd>99.01 %" in facts
    assert "Canvas accuracy (held-out writers' drawings)" in facts
    assert "97.13 % of 1,409 pen-drawn digits by writers 5, 10, 15, 20, 25, 30" in facts


def test_version_page_shows_the_canvas_confusion_matrix(staff, versions):
    _, second = versions
    give_canvas_score(second, 0.9713, [0.97] * 9 + [0.91])

    page = staff.get(f"/admin/training/modelversion/{second.pk}/change/").content.decode()

    # MNIST per-class and confusion, canvas per-digit and confusion, loss, accuracy
    assert page.count('<figure class="chart">') == 6
    assert "v2: confusion matrix (held-out writers&#x27; drawings)" in page
    assert "true 7, predicted 1: 9" in page  # a cell only the canvas matrix has
    assert "v2: accuracy per digit (held-out writers&#x27; drawings)" in page
    assert "Canvas accuracy per digit (held-out writers' drawings)" in page
    assert "91.00 %" in page  # digit 9 on the drawings


def test_a_version_without_a_canvas_score_says_so_and_draws_no_canvas_charts(staff, versions):
    _, second = versions

    page = staff.get(f"/admin/training/modelversion/{second.pk}/change/").content.decode()

    assert "no canvas score: it was made without the pen-drawn digits" in page
    assert "held-out writers&#x27; drawings)</title>" not in page
    assert 'Pen-drawn digits trained on</dt><dd class="pen-drawn">none' in page


def test_version_page_shows_the_pen_drawn_part_of_the_dataset_fingerprint(staff, versions):
    _, second = versions
    writers = [writer for writer in range(1, 31) if writer % 5]
    second.dataset_fingerprint = {
        "mnist": {}, "feedback_samples": 0,
        "pendigits": {"sha256": "a66225d68d7d" + "0" * 52, "writers": writers, "digits": 5995,
                      "copies": 2, "samples": 11990},
    }  # fmt: skip
    second.save()

    page = staff.get(f"/admin/training/modelversion/{second.pk}/change/").content.decode()

    assert (
        "11,990 pen-drawn samples: 5,995 digits by 24 writers "
        "(1-4, 6-9, 11-14, 16-19, 21-24, 26-29), 2 drawings of each; file sha256 a66225d68d7d"
    ) in page


def test_the_accuracy_history_has_a_canvas_series_and_column(staff, versions):
    _, second = versions
    give_canvas_score(second, 0.9713, [0.97] * 10)

    page = staff.get("/admin/training/modelversion/accuracy/").content.decode()

    chart = page[page.index('<svg xmlns="http://www.w3.org/2000/svg" class="chart') :]
    assert "canvas accuracy (held-out writers)" in chart  # the legend
    assert "v2: 97.13 %" in chart  # its point
    assert '<th scope="col">canvas accuracy (held-out writers)</th>' in page
    table = page[page.index("Versions, newest first") :]
    assert "<td>99.01 %</td><td>97.13 %</td>" in table  # v2: test, then canvas
    assert "<td>—</td>" in table  # v1 has none


def test_the_accuracy_history_draws_only_the_newest_canvas_set(staff, versions):
    first, second = versions
    give_canvas_score(first, 0.90, [0.90] * 10, on=OTHER_CANVAS_SET)
    give_canvas_score(second, 0.9713, [0.97] * 10)

    page = staff.get("/admin/training/modelversion/accuracy/").content.decode()

    chart = page[page.index('<svg xmlns="http://www.w3.org/2000/svg" class="chart') :]
    chart = chart[: chart.index("</svg>")]
    assert "v2: 97.13 %" in chart and "v1: 90.00 %" not in chart
    assert "90.00 % (another canvas set)" in page


def test_compare_shows_the_canvas_per_digit_differences_on_the_same_set(staff, versions):
    first, second = versions
    give_canvas_score(first, 0.97, [0.97] * 10)
    give_canvas_score(second, 0.972, [0.97] * 3 + [0.99] + [0.97] * 6)

    page = staff.get(f"/admin/training/modelversion/{second.pk}/compare/").content.decode()

    assert page.count('class="chart chart-difference"') == 2  # MNIST and canvas
    assert "v2 minus v1, per digit, held-out writers&#x27; drawings (points)" in page
    assert "Canvas accuracy per digit (held-out writers' drawings)" in page
    assert "<td>3</td><td>99.00 %</td><td>97.00 %</td><td>+2.00</td>" in page
    assert "<td>97.20 %</td><td>97.00 %</td>" in page  # the canvas accuracy row
    assert "No canvas comparison" not in page


def test_compare_says_when_the_canvas_scores_do_not_compare(staff, versions):
    first, second = versions
    take_canvas_score(first)
    give_canvas_score(second, 0.972, [0.97] * 10)
    url = f"/admin/training/modelversion/{second.pk}/compare/"

    without = staff.get(url).content.decode()
    give_canvas_score(first, 0.97, [0.97] * 10, on=OTHER_CANVAS_SET)
    other_set = staff.get(url).content.decode()

    assert "No canvas comparison: v1 has no canvas score." in without
    assert "scored on different canvas sets" in other_set
    for page in (without, other_set):
        assert (
            page.count('class="chart chart-difference"') == 1
            and "Canvas accuracy per digit" not in page
        )


def test_the_activation_confirmation_shows_the_canvas_difference(staff, versions):
    first, second = versions
    give_canvas_score(first, 0.9713, [0.97] * 10)
    give_canvas_score(second, 0.9613, [0.96] * 10)

    page = staff.get(f"/admin/training/modelversion/{second.pk}/activate/").content.decode()

    assert "canvas accuracy 0.9613" in page and "canvas accuracy 0.9713" in page
    assert (
        "On the held-out writers' drawings (the canvas score) v2 is -1.00 points worse."
    ) in page


def test_the_rollback_confirmation_says_when_there_is_no_canvas_comparison(staff, versions):
    first, second = versions
    take_canvas_score(first)
    give_canvas_score(second, 0.9613, [0.96] * 10)
    version_activate(version=2, reason="try")

    page = staff.get("/admin/training/modelversion/rollback/").content.decode()

    assert "Roll back to v1" in page
    assert "No canvas comparison: v1 has no canvas score." in page
