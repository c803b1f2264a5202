import math
import re
import xml.etree.ElementTree as ET

import pytest

from training.admin.charts import (
    NO_DATA,
    Marker,
    Series,
    bar_chart_svg,
    confusion_heatmap_svg,
    difference_bar_svg,
    line_chart_svg,
    nice_ticks,
    percent,
)

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert(1)</script> & co"
DIGITS = [str(digit) for digit in range(10)]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output, not untrusted XML


def elements(root: ET.Element, tag: str, css_class: str | None = None) -> list[ET.Element]:
    found = root.iter(f"{SVG}{tag}")
    return [e for e in found if css_class is None or css_class in e.get("class", "").split()]


def texts(root: ET.Element) -> list[str]:
    return [e.text or "" for e in elements(root, "text")]


def confusion(size: int = 10) -> list[list[int]]:
    return [[(90 if i == j else 1 + (i + j) % 3) for j in range(size)] for i in range(size)]


def line_series() -> list[Series]:
    return [
        Series("train", [(1, 0.95), (2, 0.97), (3, 0.98)]),
        Series("validation", [(1, 0.94), (2, 0.96), (3, 0.9741)], style="dashed"),
    ]


def every_chart(title: str = "A chart", label: str = "a") -> dict[str, str]:
    labels = [f"{label}{digit}" for digit in range(10)]
    values = [0.99 - digit / 1000 for digit in range(10)]
    return {
        "heatmap": confusion_heatmap_svg(confusion(), title=title),
        "empty heatmap": confusion_heatmap_svg([], title=title),
        "line": line_chart_svg(
            [Series(label, [(1, 0.9), (2, 0.95)]), *line_series()],
            title=title,
            y_label="accuracy",
            x_label="epoch",
            markers=[Marker(2, label)],
        ),
        "empty line": line_chart_svg([], title=title, y_label="accuracy", x_label="epoch"),
        "bar": bar_chart_svg(values, labels=labels, title=title, highlight_below=0.985),
        "empty bar": bar_chart_svg([], labels=[], title=title),
        "difference": difference_bar_svg([v - 0.985 for v in values], labels=labels, title=title),
        "empty difference": difference_bar_svg([], labels=[], title=title),
    }


@pytest.mark.parametrize("kind", list(every_chart()))
def test_every_chart_is_a_titled_scalable_image(kind):
    root = parse(every_chart(title="Per-class accuracy")[kind])

    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("aria-label", "").startswith("Per-class accuracy: ")
    assert root[0].tag == f"{SVG}title"
    assert root[0].text == "Per-class accuracy"
    assert re.fullmatch(r"0 0 \d+(\.\d+)? \d+(\.\d+)?", root.get("viewBox", ""))
    assert root.get("width") == "100%"
    assert root.get("height") is None
    assert root.get("font-family") == "inherit"


@pytest.mark.parametrize("kind", list(every_chart()))
def test_text_from_the_caller_is_escaped(kind):
    svg = every_chart(title=HOSTILE, label=HOSTILE)[kind]
    root = parse(svg)

    assert "<script" not in svg
    assert root[0].text == HOSTILE
    assert HOSTILE in root.get("aria-label", "")


@pytest.mark.parametrize("kind", list(every_chart()))
def test_no_colour_is_hard_coded_black_or_white(kind):
    root = parse(every_chart()[kind])
    forbidden = re.compile(r"#(000|fff)(000|fff)?\b|\b(black|white)\b", re.IGNORECASE)

    for element in root.iter():
        for name in ("fill", "stroke", "color", "style"):
            assert not forbidden.search(element.get(name, "")), (element.tag, name)


def test_every_chart_is_the_same_text_for_the_same_input():
    assert every_chart() == every_chart()


def test_heatmap_draws_a_cell_per_pair_and_writes_the_nonzero_counts():
    matrix = confusion()
    matrix[3][5] = 0
    root = parse(confusion_heatmap_svg(matrix, title="Confusion"))

    assert len(elements(root, "rect", "cell")) == 100
    assert len(elements(root, "rect", "correct")) == 10
    assert len(elements(root, "rect", "error")) == 89
    assert len(elements(root, "rect", "empty")) == 1
    written = texts(root)
    assert written.count("90") == 10
    assert written.count("0") == 2  # the digit labels on both axes, not the empty cell
    assert {"true", "predicted"} <= set(written)


def test_heatmap_shades_cells_by_their_share_of_the_row():
    root = parse(confusion_heatmap_svg([[90, 10], [100, 900]], title="Confusion"))
    cells = elements(root, "rect", "cell")

    opacity = [cell.get("fill-opacity") for cell in cells]
    assert opacity[0] == opacity[3]  # 90 of 100 and 900 of 1000: the same shade
    assert opacity[1] == opacity[2]
    assert opacity[0] != opacity[1]
    assert cells[0].get("fill") != cells[1].get("fill")  # right and wrong differ


@pytest.mark.parametrize(("matrix", "cells"), [([], 100), ([[0] * 3 for _ in range(3)], 9)])
def test_empty_heatmap_draws_an_empty_grid_with_a_no_data_note(matrix, cells):
    root = parse(confusion_heatmap_svg(matrix, title="Confusion"))

    assert len(elements(root, "rect", "empty")) == cells
    assert NO_DATA in texts(root)


def test_heatmap_rejects_a_matrix_that_is_not_square():
    with pytest.raises(ValueError, match="square"):
        confusion_heatmap_svg([[1, 2], [3]], title="Confusion")


def test_line_chart_draws_a_line_per_series_a_circle_per_point_and_the_markers():
    root = parse(
        line_chart_svg(
            line_series(),
            title="Training",
            y_label="accuracy",
            x_label="epoch",
            markers=[Marker(1.5, "activated v3"), Marker(2.5, "activated v4")],
        )
    )

    assert len(elements(root, "polyline", "series")) == 2
    assert len(elements(root, "circle")) == 6
    assert len(elements(root, "line", "marker")) == 2
    assert {"train", "validation", "activated v3", "activated v4"} <= set(texts(root))


def test_line_chart_dashes_a_dashed_series_and_colours_series_apart():
    svg = line_chart_svg(line_series(), title="t", y_label="y", x_label="x")
    lines = elements(parse(svg), "polyline")

    assert lines[0].get("stroke-dasharray") is None
    assert lines[1].get("stroke-dasharray")
    assert lines[0].get("stroke") != lines[1].get("stroke")


def test_point_tooltips_are_the_callers_labels_or_name_and_value():
    series = [
        Series("v3", [(3, 0.9941)]),
        Series("v4", [(3, 0.99), (4, 0.991)], labels=["first", "second"]),
    ]
    root = parse(line_chart_svg(series, title="t", y_label="y", x_label="epoch", y_format=percent))

    tips = [circle.find(f"{SVG}title").text for circle in elements(root, "circle")]
    assert tips == ["v3: 99.41 % (epoch 3)", "first", "second"]


def test_line_chart_shows_a_single_point_and_leaves_out_missing_ones():
    series = [
        Series("v1", [(1, 0.5)]),
        Series("loss", [(1, math.nan), (2, 0.3), (3, math.inf), (4, None)]),
    ]
    root = parse(line_chart_svg(series, title="t", y_label="y", x_label="x"))

    assert len(elements(root, "circle")) == 2
    assert "nan" not in ET.tostring(root, encoding="unicode")


@pytest.mark.parametrize("series", [[], [Series("v1", [])]])
def test_line_chart_without_points_says_no_data(series):
    root = parse(line_chart_svg(series, title="t", y_label="y", x_label="x"))

    assert NO_DATA in texts(root)
    assert not elements(root, "circle")


def test_line_chart_writes_x_ticks_with_the_callers_format():
    root = parse(
        line_chart_svg(
            [Series("v1", [(0, 0.9), (400, 0.95)])],
            title="t",
            y_label="y",
            x_label="time",
            x_format=lambda x: f"t+{x:.0f}s",
        )
    )

    ticks = [text for text in texts(root) if text.startswith("t+")]
    assert ticks == [f"t+{seconds}s" for seconds in range(0, 401, 100)]


def test_line_chart_y_range_is_widened_by_data_outside_it():
    root = parse(
        line_chart_svg(
            [Series("v1", [(1, 0.5), (2, 1.2)])],
            title="t",
            y_label="y",
            x_label="x",
            y_range=(0.0, 1.0),
        )
    )

    assert {"0", "1.5"} <= set(texts(root))  # the axis reaches past 1.0 to hold 1.2


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.97, 0.995, [0.97, 0.975, 0.98, 0.985, 0.99, 0.995]),
        (0.0, 1.0, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (1, 10, [0, 2, 4, 6, 8, 10]),
        (0.981, 0.9941, [0.98, 0.985, 0.99, 0.995]),
        (-0.012, 0.004, [-0.015, -0.01, -0.005, 0.0, 0.005]),
    ],
)
def test_nice_ticks_are_round_evenly_spaced_and_cover_the_range(low, high, expected):
    assert nice_ticks(low, high) == pytest.approx(expected)


@pytest.mark.parametrize("value", [0.0, 0.99, -3.0])
def test_nice_ticks_widen_an_empty_range(value):
    ticks = nice_ticks(value, value)

    assert ticks[0] < value < ticks[-1]


def test_bar_chart_highlights_the_values_below_the_threshold():
    values = [0.99, 0.97, 0.995, 0.9841]
    root = parse(bar_chart_svg(values, labels=DIGITS[:4], title="Per class", highlight_below=0.985))

    bars = elements(root, "rect", "bar")
    assert [("below" in bar.get("class")) for bar in bars] == [False, True, False, True]
    assert bars[1].get("fill") != bars[0].get("fill")
    assert "97.00 %" in texts(root)
    assert len(elements(root, "line")) == 1  # the threshold


def test_bar_chart_draws_bars_in_proportion_within_the_range():
    root = parse(
        bar_chart_svg([0.5, 2.0, -1.0], labels=["a", "b", "c"], title="t", range=(0.0, 1.0))
    )

    widths = [float(bar.get("width")) for bar in elements(root, "rect", "bar")]
    track = float(elements(root, "rect", "track")[0].get("width"))
    assert widths == [track / 2, track, 0]
    assert "200.00 %" in texts(root)  # written as it is, drawn clipped


@pytest.mark.parametrize("chart", [bar_chart_svg, difference_bar_svg])
def test_bar_charts_reject_labels_that_do_not_match_the_values(chart):
    with pytest.raises(ValueError, match="labels"):
        chart([0.5, 0.6], labels=["0"], title="t")


def test_difference_chart_draws_gains_right_and_losses_left_of_zero():
    root = parse(
        difference_bar_svg([0.0042, -0.0031, 0.0], labels=["0", "1", "2"], title="v4 - v3")
    )

    zero = float(elements(root, "line")[0].get("x1"))
    gain, loss, none = elements(root, "rect", "bar")
    assert "gain" in gain.get("class") and float(gain.get("x")) == zero
    assert "loss" in loss.get("class")
    assert float(loss.get("x")) + float(loss.get("width")) == pytest.approx(zero)
    assert float(none.get("width")) == 0
    assert gain.get("fill") != loss.get("fill")
    assert {"+0.42 pp", "-0.31 pp", "+0.00 pp"} <= set(texts(root))


@pytest.mark.parametrize("chart", [bar_chart_svg, difference_bar_svg])
def test_bar_charts_without_values_say_no_data(chart):
    root = parse(chart([], labels=[], title="t"))

    assert NO_DATA in texts(root)
    assert not elements(root, "rect")


def test_whole_number_x_values_get_whole_number_ticks():
    root = parse(
        line_chart_svg(
            [Series("loss", [(1, 0.5), (2, 0.3), (3, 0.2)])], title="t", y_label="y", x_label="x"
        )
    )

    assert {"1", "2", "3"} <= set(texts(root))
    assert "1.5" not in texts(root)
