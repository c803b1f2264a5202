"""The admin's words and pictures for the canvas score: a version's accuracy
on the held-out writers' pen-drawn digits, drawn as the drawing page draws
them (training/ml/pendigits.py). Two versions' canvas scores compare only
when they were scored on the same canvas set."""

from training.admin import charts
from training.ml.pendigits import HELD_OUT_WRITERS
from training.models import ModelVersion

DIGITS = [str(digit) for digit in range(10)]
HELD_OUT = ", ".join(str(writer) for writer in sorted(HELD_OUT_WRITERS))
CANVAS_SET = "held-out writers' drawings"


def percent(value: float | None) -> str:
    return "—" if value is None else charts.percent(value)


def canvas_mismatch(version: ModelVersion, other: ModelVersion) -> str:
    """Why the two versions' canvas scores do not compare; "" when they do."""
    for one in (version, other):
        if one.canvas_accuracy is None:
            return f"v{one.version} has no canvas score"
    if version.canvas_set_sha256 != other.canvas_set_sha256:
        return (
            f"v{version.version} and v{other.version} were scored on different canvas sets, "
            "so their canvas scores do not compare"
        )
    return ""


def per_digit_comparison(
    mine: list[float], theirs: list[float], *, title: str
) -> tuple[list[tuple[int, str, str, str]], str]:
    """Table rows (digit, mine, theirs, difference in points) and the chart of
    the differences."""
    differences = [a - b for a, b in zip(mine, theirs, strict=True)]
    rows = [
        (digit, percent(a), percent(b), f"{difference * 100:+.2f}")
        for digit, (a, b, difference) in enumerate(zip(mine, theirs, differences, strict=True))
    ]
    return rows, charts.difference_bar_svg(differences, labels=DIGITS, title=title)


def pen_drawn_summary(fingerprint: dict) -> str:
    """The fingerprint's pen-drawn part in words; "" when it has none."""
    pen = fingerprint.get("pendigits")
    if not isinstance(pen, dict):
        return ""
    writers = pen.get("writers") or []
    return (
        f"{pen.get('samples', 0):,} pen-drawn samples: {pen.get('digits', 0):,} digits by "
        f"{len(writers)} writers ({_ranges(writers)}), {pen.get('copies', 0)} drawings of each; "
        f"file sha256 {str(pen.get('sha256', ''))[:12]}…"
    )


def _ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 4, 6, 7, 9] -> "1-4, 6-7, 9": thirty writer numbers stay short."""
    spans: list[list[int]] = []
    for number in sorted(numbers):
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def canvas_delta(target: ModelVersion, active: ModelVersion | None) -> dict:
    """For the confirmation page: the canvas difference in points, or why there is none."""
    if active is None:
        return {"canvas_delta": None, "canvas_note": ""}
    note = canvas_mismatch(target, active)
    if note:
        return {"canvas_delta": None, "canvas_note": note}
    return {
        "canvas_delta": (target.canvas_accuracy - active.canvas_accuracy) * 100,
        "canvas_note": "",
    }


def canvas_shown(accuracy: float | None, set_sha256: str, newest_set: str) -> str:
    if accuracy is not None and set_sha256 != newest_set:
        return f"{percent(accuracy)} (another canvas set)"
    return percent(accuracy)
