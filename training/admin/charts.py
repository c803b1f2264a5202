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
from typing import Literal

FG = "var(--body-fg, #333)"
QUIET = "var(--body-quiet-color, #666)"
HAIRLINE = "var(--hairline-color, #ccc)"
PRIMARY = "var(--primary, #79aec8)"
ERROR = "var(--error-fg, #ba2121)"
# Bars and lines: the admin's link colour, which keeps a 3:1 contrast on both themes'
# backgrounds (the primary colour does not: it is a dark blue in dark mode); then
# mid-tones that do too. The primary colour stays where text sits on it: the heat map.
LINK = "var(--link-fg, #417893)"
PALETTE = (LINK, "#d96a1c", "#3d9a40", "#9a6fc4", "#1199a6", "#d9559e")
NO_DATA = "no data"


@dataclass(frozen=True)
class Series:
    """One line of a line chart: (x, y) points and, optionally, one tooltip per point."""

    name: str
    points: Sequence[tuple[float, float]]
    style: Literal["solid", "dashed"] = "solid"
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


def _rect(x: float, y: float, width: float, height: float, tip: str = "", **attrs: object) -> str:
    tips = [_title(tip)] if tip else []
    return _el("rect", *tips, x=x, y=y, width=width, height=height, **attrs)


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


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _finite_points(series: Series) -> list[tuple[float, float, str | None]]:
    """The series' (x, y, tooltip) in x order, without missing (None) or infinite points."""
    tips = series.labels or [None] * len(series.points)
    pairs = zip(series.points, tips, strict=True)
    finite = [(x, y, tip) for (x, y), tip in pairs if _finite(x) and _finite(y)]
    return sorted(finite, key=lambda point: point[0])


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
    it; without, they are `nice_ticks`. Pass `y_format=percent` for accuracies. Missing
    (None) and non-finite points (a diverged loss) are left out.
    """
    left, top, plot_w, plot_h = 72, 40, 520, 260
    legend_x = left + plot_w + 16
    size = (legend_x + 48 + 7 * max((len(s.name) for s in series), default=0), top + plot_h + 48)
    x_text = x_format or _plain
    points = [_finite_points(s) for s in series]
    xs = [x for chosen in points for x, _, _ in chosen]
    ys = [y for chosen in points for _, y, _ in chosen] + [*(y_range or ())]
    if not xs:
        return _svg("line", size, title, NO_DATA, [_no_data(left + plot_w / 2, top + plot_h / 2)])
    y_ticks = nice_ticks(min(ys), max(ys))
    xs += [m.x for m in markers]
    low, high = min(xs), max(xs)
    if x_format is None and all(float(x).is_integer() for x in xs):
        # Counts (epochs) get whole-number ticks, never "1.2".
        step = max(1, math.ceil((high - low) / 5))
        x_ticks = [float(x) for x in range(int(low), int(high) + step, step)]
        low, high = min(low, x_ticks[0]), max(high, x_ticks[-1])
    elif x_format is None:
        x_ticks = nice_ticks(low, high)
        low, high = min(low, x_ticks[0]), max(high, x_ticks[-1])
    else:  # round numbers of seconds are not round times: spread five ticks evenly
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
        body += [
            _line(left, sy(tick), left + plot_w, sy(tick), class_="grid", stroke=HAIRLINE),
            _text(left - 6, sy(tick) + 4, y_format(tick), text_anchor="end"),
        ]
    for tick in x_ticks:
        body += [
            _line(sx(tick), top + plot_h, sx(tick), top + plot_h + 4),
            _text(sx(tick), top + plot_h + 18, x_text(tick), text_anchor="middle"),
        ]
    for k, marker in enumerate(markers):  # labels staggered so close markers stay legible
        x = sx(marker.x)
        body += [
            _line(x, top, x, top + plot_h, class_="marker", stroke_dasharray="2 3"),
            _text(x + 3, top + 10 + 12 * (k % 3), marker.label, font_size=10),
        ]
    for k, s in enumerate(series):
        colour, legend_y = PALETTE[k % len(PALETTE)], top + 8 + 18 * k
        line = {"stroke": colour, "stroke_width": 2, "fill": "none"}
        if s.style == "dashed":
            line["stroke_dasharray"] = "6 4"
        body += [
            _line(legend_x, legend_y, legend_x + 24, legend_y, **line),
            _text(legend_x + 28, legend_y + 4, s.name, fill=FG),
        ]
        if not points[k]:
            continue
        coords = " ".join(f"{_n(sx(x))},{_n(sy(y))}" for x, y, _ in points[k])
        body.append(_el("polyline", class_="series", points=coords, **line))
        for x, y, tip in points[k]:
            text = tip or f"{s.name}: {y_format(y)} ({x_label} {x_text(x)})"
            body.append(_el("circle", _title(text), cx=sx(x), cy=sy(y), r=3.5, fill=colour))
    summary = f"{y_label} by {x_label}: {', '.join(s.name for s in series)}"
    return _svg("line", size, title, summary, body)


_TOP, _ROW = 36, 24  # bar charts: first row's top edge, row height


def _bar_rows(values: Sequence[float], labels: Sequence[str]) -> tuple[int, int, list[str]]:
    """A bar chart's label column width, its height, and its labels drawn."""
    if len(values) != len(labels):
        raise ValueError(f"{len(values)} values but {len(labels)} labels")
    width = 16 + 7 * max((len(label) for label in labels), default=1)
    drawn = [
        _text(width - 6, _TOP + _ROW * k + 16, label, text_anchor="end", fill=FG)
        for k, label in enumerate(labels)
    ]
    return width, _TOP + max(len(values), 1) * _ROW + 12, drawn


def bar_chart_svg(
    values: Sequence[float],
    *,
    labels: Sequence[str],
    title: str,
    value_format: Callable[[float], str] = percent,
    range: tuple[float, float] = (0.0, 1.0),  # shadows the builtin, which is not used here
    highlight_below: float | None = None,
) -> str:
    """Draw one horizontal bar per value over `range`, the value written at the bar's end.

    Bars below `highlight_below` are in the error colour and a dashed line marks the
    threshold. Values outside `range` are drawn clipped to it but written as they are.
    """
    label_w, height, body = _bar_rows(values, labels)
    track = 360
    size = (label_w + track + 80, height)
    if not values:
        return _svg("bar", size, title, NO_DATA, [_no_data(size[0] / 2, _TOP + _ROW)])
    sx = _scale(range[0], range[1], 0, track)
    for k, (value, label) in enumerate(zip(values, labels, strict=True)):
        y, text = _TOP + k * _ROW, value_format(value)
        low = highlight_below is not None and value < highlight_below
        length = min(max(sx(value), 0), track) if math.isfinite(value) else 0
        look = {"class_": "bar below", "fill": ERROR} if low else {"class_": "bar", "fill": LINK}
        body += [
            _rect(label_w, y + 4, track, _ROW - 8, class_="track", fill="none", stroke=HAIRLINE),
            _rect(label_w, y + 4, length, _ROW - 8, f"{label}: {text}", **look),
            _text(label_w + track + 6, y + 16, text, fill=ERROR if low else FG),
        ]
    if highlight_below is not None and range[0] <= highlight_below <= range[1]:
        x = label_w + sx(highlight_below)
        body.append(_line(x, _TOP, x, height - 12, stroke=ERROR, stroke_dasharray="3 3"))
    summary = ", ".join(
        f"{label} {value_format(v)}" for v, label in zip(values, labels, strict=True)
    )
    return _svg("bar", size, title, summary, body)


def difference_bar_svg(differences: Sequence[float], *, labels: Sequence[str], title: str) -> str:
    """Draw diverging horizontal bars around a zero line, each written in signed percentage
    points: gains in the link colour to the right, losses in the error colour to the left.
    Meant for the per-class accuracy of a version minus the active version's.
    """
    label_w, height, body = _bar_rows(differences, labels)
    half = 180
    zero = label_w + 72 + half
    size = (zero + half + 72, height)
    if not differences:
        return _svg("difference", size, title, NO_DATA, [_no_data(zero, _TOP + _ROW)])
    finite = [abs(d) for d in differences if math.isfinite(d)]
    reach = max([0.01, *finite])  # at least 1 pp, so that noise draws short bars
    for k, (difference, label) in enumerate(zip(differences, labels, strict=True)):
        y, text, gain = _TOP + k * _ROW, percentage_points(difference), difference >= 0
        length = abs(difference) / reach * half if math.isfinite(difference) else 0
        x = zero if gain else zero - length
        look = {"class_": "bar gain" if gain else "bar loss", "fill": LINK if gain else ERROR}
        body.append(_rect(x, y + 4, length, _ROW - 8, f"{label}: {text}", **look))
        if gain:
            body.append(_text(zero + length + 6, y + 16, text, fill=FG))
        else:
            body.append(_text(x - 6, y + 16, text, text_anchor="end", fill=ERROR))
    body.append(_line(zero, _TOP, zero, height - 12))
    summary = ", ".join(
        f"{label} {percentage_points(d)}" for d, label in zip(differences, labels, strict=True)
    )
    return _svg("difference", size, title, summary, body)
