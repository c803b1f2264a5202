"""Server-side SVG charts for the admin: confusion heat map, line, bar and difference charts.

Each function returns one self-contained `<svg>` string that is safe to mark safe in a
template: every caller-supplied text and attribute goes through `html.escape`. Colours
are the Django admin's CSS custom properties (with its light-theme values as fallbacks),
so the same markup reads in the admin's light and dark themes; the few fixed colours are
mid-tones that keep their contrast on both. Accuracies are fractions in 0..1, written
"99.41 %" by default. Output is deterministic: the same input gives the same text.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

FG = "var(--body-fg, #333)"
QUIET = "var(--body-quiet-color, #666)"
HAIRLINE = "var(--hairline-color, #ccc)"
PRIMARY = "var(--primary, #79aec8)"
ERROR = "var(--error-fg, #ba2121)"
# Lines: the admin's link colour (it turns light in dark mode), then mid-tones.
PALETTE = ("var(--link-fg, #417893)", "#ed7d31", "#4caf50", "#a77bca", "#17becf", "#e377c2")
NO_DATA = "no data"


@dataclass(frozen=True)
class Series:
    """One line of a line chart: (x, y) points and, optionally, one tooltip per point."""

    name: str
    points: Sequence[tuple[float, float]]
    style: str = "solid"  # or "dashed"
    labels: Sequence[str] = ()


@dataclass(frozen=True)
class Marker:
    """A vertical line at `x` with a short label, e.g. "activated v3" on a timeline."""

    x: float
    label: str


def percent(value: float) -> str:
    return f"{value * 100:.2f} %"


def percentage_points(value: float) -> str:
    return f"{value * 100:+.2f} pp"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round, evenly spaced ticks covering [low, high].

    The step is (high - low) / count rounded up to 1, 2 or 5 times a power of ten; the
    first tick is at or below `low`, the last at or above `high`. An empty interval is
    widened by 5 % of its value (or by 1 around zero).
    """
    if not high > low:
        pad = abs(low) * 0.05 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    return [round(k * step, 12) for k in range(first, last + 1)]


def _n(value: float) -> str:
    """A number with at most two decimals: coordinates stay short and deterministic."""
    return format(round(value, 2), "g")


def _plain(value: float) -> str:
    return format(round(value, 6), "g")


def _el(tag: str, *children: str, **attrs: object) -> str:
    """One element: `class_` becomes `class`, `font_size` `font-size`; None drops it.

    Attribute values are escaped; `children` must already be markup.
    """
    rendered = "".join(
        f' {name.rstrip("_").replace("_", "-")}="'
        f'{escape(_n(value) if isinstance(value, int | float) else str(value))}"'
        for name, value in attrs.items()
        if value is not None
    )
    return f"<{tag}{rendered}>{''.join(children)}</{tag}>" if children else f"<{tag}{rendered}/>"


def _title(text: str) -> str:
    return f"<title>{escape(text)}</title>"


def _text(x: float, y: float, text: str, **attrs: object) -> str:
    attrs = {"font_size": 11, "fill": QUIET} | attrs
    return _el("text", escape(text), x=x, y=y, **attrs)


def _line(x1: float, y1: float, x2: float, y2: float, **attrs: object) -> str:
    return _el("line", x1=x1, y1=y1, x2=x2, y2=y2, **({"stroke": QUIET} | attrs))


def _rect(x: float, y: float, width: float, height: float, tip: str, **attrs: object) -> str:
    return _el("rect", _title(tip), x=x, y=y, width=width, height=height, **attrs)


def _vertical_text(x: float, y: float, text: str) -> str:
    return _text(x, y, text, text_anchor="middle", transform=f"rotate(-90 {_n(x)} {_n(y)})")


def _svg(kind: str, size: tuple[float, float], title: str, summary: str, body: list[str]) -> str:
    """The root element around `body`: accessible name, visible title, scalable box."""
    width, height = _n(size[0]), _n(size[1])
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" role="img" '
        f'aria-label="{escape(f"{title}: {summary}")}" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width: {width}px; height: auto" font-family="inherit" '
        f'fill="{FG}">{_title(title)}'
        + _text(8, 20, title, font_size=14, fill=FG, font_weight="bold")
        + "".join(body)
        + "</svg>"
    )


def _no_data(x: float, y: float) -> str:
    return _text(x, y, NO_DATA, text_anchor="middle", font_size=13, class_="no-data")


def confusion_heatmap_svg(matrix: list[list[int]], *, title: str) -> str:
    """Draw an NxN confusion matrix: rows are the true class, columns the predicted one.

    A cell's opacity is its share of its row, so classes with different counts compare.
    The diagonal is in the primary colour, errors in the error colour (capped so the
    count written on them stays readable). An empty or all-zero matrix draws an empty
    grid (10x10 if there are no rows at all) with a "no data" note.
    """
    size = len(matrix)
    if any(len(row) != size for row in matrix):
        raise ValueError("the confusion matrix must be square")
    matrix = matrix or [[0] * 10 for _ in range(10)]
    size, cell, left, top = len(matrix), 36, 64, 64
    side, totals = size * cell, [sum(row) for row in matrix]
    body = [
        _text(left + side / 2, top - 26, "predicted", text_anchor="middle"),
        _vertical_text(18, top + side / 2, "true"),
    ]
    for k in range(size):
        body.append(_text(left + k * cell + cell / 2, top - 8, str(k), text_anchor="middle"))
        body.append(_text(left - 8, top + k * cell + cell / 2 + 4, str(k), text_anchor="end"))
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            x, y, share = left + j * cell, top + i * cell, count / (totals[i] or 1)
            if count == 0:
                kind, fill, opacity = "empty", "none", None
            elif i == j:
                kind, fill, opacity = "correct", PRIMARY, 0.15 + 0.85 * share
            else:  # errors are rare: the square root keeps a few of them visible
                kind, fill, opacity = "error", ERROR, min(0.6, 0.2 + 0.8 * math.sqrt(share))
            tip = f"true {i}, predicted {j}: {count} ({percent(share)} of the row)"
            look = {"class_": f"cell {kind}", "fill": fill, "fill_opacity": opacity}
            body.append(_rect(x, y, cell, cell, tip, stroke=HAIRLINE, **look))
            if count:
                text = {"fill": FG, "font_size": 10 if count < 10_000 else 8}
                body.append(_text(x + cell / 2, y + 22, str(count), text_anchor="middle", **text))
    if sum(totals):
        summary = f"{sum(matrix[k][k] for k in range(size))} of {sum(totals)} on the diagonal"
    else:
        summary = NO_DATA
        body.append(_no_data(left + side / 2, top + side / 2 + 5))
    return _svg("heatmap", (left + side + 16, top + side + 24), title, summary, body)


def _scale(low: float, high: float, start: float, end: float) -> Callable[[float], float]:
    span = (high - low) or 1.0
    return lambda value: start + (value - low) / span * (end - start)


def line_chart_svg(
    series: Sequence[Series],
    *,
    title: str,
    y_label: str,
    x_label: str,
    y_range: tuple[float, float] | None = None,
    markers: Sequence[Marker] = (),
    x_format: Callable[[float], str] | None = None,
    y_format: Callable[[float], str] = _plain,
) -> str:
    """Draw one line per series, a circle with a tooltip per point, a legend and markers.

    `y_range` is the least the y axis shows; data outside it widens the axis. With
    `x_format` (e.g. for timestamps) the x ticks are five evenly spaced values written by
    it; without, they are `nice_ticks`. Pass `y_format=percent` for accuracies.
    """
    left, top, plot_w, plot_h = 72, 40, 520, 260
    legend_x = left + plot_w + 16
    size = (legend_x + 48 + 7 * max((len(s.name) for s in series), default=0), top + plot_h + 48)
    drawn = [s for s in series if s.points]
    if not drawn:
        return _svg("line", size, title, NO_DATA, [_no_data(left + plot_w / 2, top + plot_h / 2)])
    xs = [x for s in drawn for x, _ in s.points] + [m.x for m in markers]
    y_ticks = nice_ticks(*_bounds([y for s in drawn for _, y in s.points] + [*(y_range or ())]))
    low, high = _bounds(xs)
    if x_format is None:
        x_ticks, x_format = nice_ticks(low, high), _plain
        low, high = min(low, x_ticks[0]), max(high, x_ticks[-1])
    else:
        x_ticks = [low + (high - low) * k / 4 for k in range(5)] if high > low else [low]
    sx = _scale(low, high, left, left + plot_w)
    sy = _scale(y_ticks[0], y_ticks[-1], top + plot_h, top)
    body = [
        _line(left, top + plot_h, left + plot_w, top + plot_h),
        _line(left, top, left, top + plot_h),
        _text(left + plot_w / 2, size[1] - 6, x_label, text_anchor="middle"),
        _vertical_text(16, top + plot_h / 2, y_label),
    ]
    for tick in y_ticks:
        y = sy(tick)
        body += [
            _line(left, y, left + plot_w, y, class_="grid", stroke=HAIRLINE),
            _text(left - 6, y + 4, y_format(tick), text_anchor="end"),
        ]
    for tick in x_ticks:
        x = sx(tick)
        body += [
            _line(x, top + plot_h, x, top + plot_h + 4),
            _text(x, top + plot_h + 18, x_format(tick), text_anchor="middle"),
        ]
    for index, marker in enumerate(markers):
        x = sx(marker.x)
        body += [
            _line(x, top, x, top + plot_h, class_="marker", stroke_dasharray="2 3"),
            _text(x + 3, top + 10 + 12 * (index % 3), marker.label, font_size=10),
        ]
    for index, s in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        line = {"stroke": colour, "stroke_width": 2, "fill": "none"}
        if s.style == "dashed":
            line["stroke_dasharray"] = "6 4"
        legend_y = top + 8 + 18 * index
        body += [
            _line(legend_x, legend_y, legend_x + 24, legend_y, **line),
            _text(legend_x + 28, legend_y + 4, s.name, fill=FG),
        ]
        if not s.points:
            continue
        tips = s.labels or [
            f"{s.name}: {y_format(y)} ({x_label} {x_format(x)})" for x, y in s.points
        ]
        ordered = sorted(zip(s.points, tips, strict=True), key=lambda pair: pair[0][0])
        coords = " ".join(f"{_n(sx(x))},{_n(sy(y))}" for (x, y), _ in ordered)
        body.append(_el("polyline", class_="series", points=coords, **line))
        body.extend(
            _el("circle", _title(tip), cx=sx(x), cy=sy(y), r=3.5, fill=colour)
            for (x, y), tip in ordered
        )
    summary = f"{y_label} by {x_label}: {', '.join(s.name for s in series)}"
    return _svg("line", size, title, summary, body)


def _bounds(values: list[float]) -> tuple[float, float]:
    return min(values), max(values)


def _rows(values: Sequence[float], labels: Sequence[str]) -> tuple[int, list[str]]:
    """The label column's width; and the labels drawn right-aligned against it."""
    if len(values) != len(labels):
        raise ValueError(f"{len(values)} values but {len(labels)} labels")
    width = 16 + 7 * max((len(label) for label in labels), default=1)
    return width, [
        _text(width - 6, 48 + 24 * k, label, text_anchor="end", fill=FG)
        for k, label in enumerate(labels)
    ]


def bar_chart_svg(
    values: Sequence[float],
    *,
    labels: Sequence[str],
    title: str,
    value_format: Callable[[float], str] = percent,
    range: tuple[float, float] = (0.0, 1.0),  # the name callers pass; shadows the builtin here only
    highlight_below: float | None = None,
) -> str:
    """Draw one horizontal bar per value over `range`, the value written at the bar's end.

    Bars below `highlight_below` are in the error colour and a dashed line marks the
    threshold. Values outside `range` are drawn clipped to it but written as they are.
    """
    label_w, body = _rows(values, labels)
    top, row, track = 36, 24, 360
    size = (label_w + track + 80, top + max(len(values), 1) * row + 12)
    if not values:
        return _svg("bar", size, title, NO_DATA, [_no_data(size[0] / 2, top + row)])
    sx = _scale(range[0], range[1], label_w, label_w + track)
    for k, (value, label) in enumerate(zip(values, labels, strict=True)):
        y, text = top + k * row, value_format(value)
        low = highlight_below is not None and value < highlight_below
        length = min(max(sx(value), label_w), label_w + track) - label_w
        bar = {"x": label_w, "y": y + 4, "height": row - 8}
        look = {"class_": "bar below", "fill": ERROR} if low else {"class_": "bar", "fill": PRIMARY}
        body += [
            _el("rect", class_="track", width=track, fill="none", stroke=HAIRLINE, **bar),
            _el("rect", _title(f"{label}: {text}"), width=length, **look, **bar),
            _text(label_w + track + 6, y + 16, text, fill=ERROR if low else FG),
        ]
    if highlight_below is not None and range[0] <= highlight_below <= range[1]:
        x = sx(highlight_below)
        body.append(_line(x, top, x, size[1] - 12, stroke=ERROR, stroke_dasharray="3 3"))
    summary = ", ".join(
        f"{label} {value_format(v)}" for v, label in zip(values, labels, strict=True)
    )
    return _svg("bar", size, title, summary, body)


def difference_bar_svg(differences: Sequence[float], *, labels: Sequence[str], title: str) -> str:
    """Draw diverging horizontal bars around a zero line, each written in signed percentage
    points: gains in the primary colour to the right, losses in the error colour to the
    left. Meant for per-class accuracy of a version minus the active version's.
    """
    label_w, body = _rows(differences, labels)
    top, row, half = 36, 24, 180
    zero = label_w + 72 + half
    size = (zero + half + 72, top + max(len(differences), 1) * row + 12)
    if not differences:
        return _svg("difference", size, title, NO_DATA, [_no_data(zero, top + row)])
    reach = max(0.01, *(abs(d) for d in differences))  # at least 1 pp: noise stays short
    for k, (difference, label) in enumerate(zip(differences, labels, strict=True)):
        y, text = top + k * row, percentage_points(difference)
        length, gain = abs(difference) / reach * half, difference >= 0
        x = zero if gain else zero - length
        look = (
            {"class_": "bar gain", "fill": PRIMARY}
            if gain
            else {"class_": "bar loss", "fill": ERROR}
        )
        body.append(_rect(x, y + 4, length, row - 8, f"{label}: {text}", **look))
        if gain:
            body.append(_text(zero + length + 6, y + 16, text, fill=FG))
        else:
            body.append(_text(x - 6, y + 16, text, text_anchor="end", fill=ERROR))
    body.append(_line(zero, top, zero, size[1] - 12))
    summary = ", ".join(
        f"{label} {percentage_points(d)}" for d, label in zip(differences, labels, strict=True)
    )
    return _svg("difference", size, title, summary, body)
