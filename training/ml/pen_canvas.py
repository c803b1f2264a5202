"""Pen trajectories drawn the way the drawing page draws them, then made into
the 28x28 image the model sees from the page. No Django.

The page (static/js/ink.js, draw.js) records pointer positions on a 280x280
canvas, rounded to 0.1 px and at least 1 px apart, and strokes each trace with
a round-capped, round-joined, anti-aliased pen: a quadratic curve through the
midpoints of successive points, each point a control point, a dot for a single
point. Here the same path is built and filled by Anti-Grain Geometry
(matplotlib's Agg renderer: exact-area anti-aliasing like the browsers'
Skia), black on white as the page does. The canvas's grey levels are what
the site's preprocessing reads back as ink (`1 - grey`, 8-bit), and that ink
goes through the site's own MNIST-style step, so a rendered digit is the
28x28 the model would get had the writer drawn it on the page.
`tests/e2e/test_pen_canvas_matches_the_page.py` checks this against Chromium
drawing the same strokes through ink.js.

A digit is placed with the variation people have: size, position on the pad,
slant, rotation and pen width, each drawn from a `Variation`'s ranges.
"""

import functools
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from training.ml.mnist_style import mnist_from_ink, to_uint8
from training.ml.unipen import PenDigit

# The page's own numbers (static/js/ink.js and draw.js; a test keeps them equal).
CANVAS_SIZE = 280
PEN_WIDTH = 24
MIN_POINT_DISTANCE = 1.0

Stroke = np.ndarray  # (n, 2) float: x, y in canvas pixels, y grows downward


@dataclass(frozen=True)
class Variation:
    """Ranges a placed digit is drawn from, each uniformly."""

    # Height of the ink (pen width included) as a fraction of the canvas side.
    height: tuple[float, float] = (0.4, 0.85)
    # No wider than this fraction of the canvas: a wide digit is drawn smaller.
    max_width: float = 0.9
    pen_width: tuple[float, float] = (PEN_WIDTH, PEN_WIDTH)
    # Horizontal shift per unit of height, added to the writer's own slant.
    slant: tuple[float, float] = (0.0, 0.0)
    rotation_degrees: tuple[float, float] = (0.0, 0.0)


# How the held-out writers' digits are drawn for a version's canvas score: as
# they wrote them, at the sizes and places people use the pad, with pens a
# little thinner and thicker than the page's (devices, and digits drawn small
# or large, change the stroke's width relative to the digit).
AS_DRAWN = Variation(height=(0.4, 0.85), pen_width=(20.0, 28.0))
# How training writers' digits are drawn for training: as on the page too.
# Chosen by the canvas score (bench/pen_mix.py, docs/benchmarks.md): adding
# slant (±0.3), rotation (±10°) and wider sizes and pens read the held-out
# writers 3 to 5 digits worse in two seeds; training's own augmentation
# (training/ml/augment.py) already slants, turns and thickens every image.
TRAINING_VARIATION = AS_DRAWN


def place(
    digit: PenDigit, rng: np.random.Generator, variation: Variation
) -> tuple[list[Stroke], float]:
    """The digit's strokes as canvas points, as the page would record them,
    and the pen width to draw them with.

    1. Flip y (tablet y grows upward, the canvas's downward), then slant and
       rotate about the centre of the digit's box.
    2. Scale so the ink, pen included, is the drawn height, or narrower than
       `max_width` of the canvas; a digit of one point is a dot.
    3. Move it to a random place where all of its ink is on the canvas.
    4. Round to 0.1 px and drop points closer than 1 px to the last one kept.
    """
    pen = rng.uniform(*variation.pen_width)
    strokes = [stroke.astype(np.float64) * (1.0, -1.0) for stroke in digit.strokes]
    points = np.concatenate(strokes)
    centre = (points.min(axis=0) + points.max(axis=0)) / 2
    shape = _shape_matrix(
        slant=rng.uniform(*variation.slant),
        rotation=math.radians(rng.uniform(*variation.rotation_degrees)),
    )
    strokes = [(stroke - centre) @ shape.T for stroke in strokes]
    points = np.concatenate(strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    width, height = high - low
    ink_height = rng.uniform(*variation.height) * CANVAS_SIZE
    scales = [(ink_height - pen) / height if height > 0 else math.inf]
    if width > 0:
        scales.append((variation.max_width * CANVAS_SIZE - pen) / width)
    scale = min(scales) if min(scales) < math.inf else 1.0
    size = (high - low) * scale + pen
    origin = rng.uniform(0.0, 1.0, size=2) * (CANVAS_SIZE - size) + pen / 2
    placed = [(stroke - low) * scale + origin for stroke in strokes]
    return [_as_recorded(stroke) for stroke in placed], pen


def _shape_matrix(*, slant: float, rotation: float) -> np.ndarray:
    # Slant first, then rotation. y grows downward, so a positive slant moves
    # points above the centre (negative y) to the right: the digit leans right.
    shear = np.array([[1.0, -slant], [0.0, 1.0]])
    cos, sin = math.cos(rotation), math.sin(rotation)
    return np.array([[cos, -sin], [sin, cos]]) @ shear


def _as_recorded(stroke: np.ndarray) -> Stroke:
    """Round to 0.1 px and keep a point only 1 px or more from the last kept
    one, as draw.js's pointFrom and onPointerMove do."""
    rounded = np.round(stroke * 10) / 10
    gaps = np.hypot(*np.diff(rounded, axis=0).T)
    if gaps.min(initial=MIN_POINT_DISTANCE) >= MIN_POINT_DISTANCE:
        return rounded  # the usual case: nothing to drop
    kept = [rounded[0]]
    for point in rounded[1:]:
        if math.hypot(*(point - kept[-1])) >= MIN_POINT_DISTANCE:
            kept.append(point)
    return np.array(kept)


def ink_from_strokes(strokes: Sequence[Stroke], pen_width: float) -> np.ndarray:
    """(CANVAS_SIZE, CANVAS_SIZE) float32 ink in [0, 1] in 1/255 steps: what
    the site's preprocessing reads back from the page's canvas PNG."""
    renderer = _renderer()
    renderer.clear()
    for stroke in strokes:
        _draw_stroke(renderer, stroke, pen_width)
    # Drawn black on a transparent buffer: the alpha is the coverage the
    # page's black-on-white canvas stores as `255 - grey`.
    alpha = np.asarray(renderer.buffer_rgba())[..., 3]
    return alpha.astype(np.float32) / np.float32(255.0)


@functools.cache
def _renderer():  # one per process: a fresh Agg buffer costs more than a clear
    from matplotlib.backends.backend_agg import RendererAgg

    return RendererAgg(CANVAS_SIZE, CANVAS_SIZE, 72)  # 72 dpi: 1 pt = 1 px


def _draw_stroke(renderer, stroke: Stroke, pen_width: float) -> None:
    """ink.js's drawStroke: a dot for one point, else moveTo the first point,
    quadraticCurveTo(point, midpoint to the next) for each inner point, and
    lineTo the last; stroked with round caps and joins."""
    from matplotlib.path import Path
    from matplotlib.transforms import Affine2D

    # Agg's y grows upward; the canvas's downward.
    to_canvas = Affine2D().scale(1.0, -1.0).translate(0.0, CANVAS_SIZE)
    gc = renderer.new_gc()
    gc.set_antialiased(True)
    gc.set_snap(False)
    gc.set_foreground((0.0, 0.0, 0.0, 1.0))
    if len(stroke) == 1:
        gc.set_linewidth(0)
        dot = Path.circle(tuple(stroke[0]), pen_width / 2)
        renderer.draw_path(gc, dot, to_canvas, (0.0, 0.0, 0.0, 1.0))
        return
    gc.set_linewidth(pen_width)
    gc.set_capstyle("round")
    gc.set_joinstyle("round")
    vertices, codes = [stroke[0]], [Path.MOVETO]
    for point, following in itertools.pairwise(stroke[1:]):
        vertices += [point, (point + following) / 2]
        codes += [Path.CURVE3, Path.CURVE3]
    vertices.append(stroke[-1])
    codes.append(Path.LINETO)
    path = Path(np.array(vertices), codes)
    path.should_simplify = False  # every point the page would draw is drawn
    renderer.draw_path(gc, path, to_canvas)


def render_digit(digit: PenDigit, rng: np.random.Generator, variation: Variation) -> np.ndarray:
    """One drawing of `digit` as the model sees it from the page: (28, 28) uint8."""
    strokes, pen = place(digit, rng, variation)
    ink = ink_from_strokes(strokes, pen)
    # Only the ink's box matters to mnist_from_ink; cropping first saves it
    # scanning the empty canvas (the same result, about 3x faster).
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return to_uint8(mnist_from_ink(ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]))


def render_digits(
    digits: Iterable[PenDigit], *, variation: Variation, seed: int, copies: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """`copies` drawings of each digit, every one placed anew: (N * copies,
    28, 28) uint8 images and their (N * copies,) uint8 labels, copy-major.
    The same digits, variation, seed and copies give the same images."""
    digits = list(digits)
    rng = np.random.default_rng(seed)
    images = np.zeros((len(digits) * copies, 28, 28), dtype=np.uint8)
    labels = np.zeros(len(digits) * copies, dtype=np.uint8)
    for copy in range(copies):
        for index, digit in enumerate(digits):
            at = copy * len(digits) + index
            images[at] = render_digit(digit, rng, variation)
            labels[at] = digit.label
    return images, labels
