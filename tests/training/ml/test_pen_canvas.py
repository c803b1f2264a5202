"""Pen trajectories drawn as the page draws them: the pen's width, caps and
anti-aliasing, where a digit lands on the pad, and the 28x28 the site's own
preprocessing makes of it. (That the strokes match Chromium drawing them
through ink.js is tests/e2e/test_pen_canvas_matches_the_page.py.)"""

import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recognizer.imaging.mnist import preprocess_image_bytes
from training.ml.mnist_style import to_uint8
from training.ml.pen_canvas import (
    AS_DRAWN,
    CANVAS_SIZE,
    MIN_POINT_DISTANCE,
    PEN_WIDTH,
    TRAINING_VARIATION,
    Variation,
    ink_from_strokes,
    place,
    render_digit,
    render_digits,
)
from training.ml.unipen import PenDigit

ROOT = Path(__file__).resolve().parents[3]
FIXED = Variation(height=(0.5, 0.5), pen_width=(24.0, 24.0))


def digit(*strokes: list[tuple[float, float]], label: int = 7, writer: int = 1) -> PenDigit:
    return PenDigit(
        label=label, writer=writer, strokes=tuple(np.array(s, dtype=np.float32) for s in strokes)
    )


def box(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])


def test_the_page_pen_and_canvas_are_the_numbers_ink_js_and_draw_js_use():
    ink_js = (ROOT / "static/js/ink.js").read_text()
    draw_js = (ROOT / "static/js/draw.js").read_text()

    assert re.search(rf"CANVAS_SIZE = {CANVAS_SIZE};", ink_js)
    assert re.search(rf"PEN_WIDTH = {PEN_WIDTH};", ink_js)
    assert re.search(r'lineCap = "round"', ink_js) and re.search(r'lineJoin = "round"', ink_js)
    assert re.search(rf"MIN_POINT_DISTANCE = {MIN_POINT_DISTANCE:g};", draw_js)


def test_a_straight_stroke_covers_the_pen_width_with_round_caps():
    ink = ink_from_strokes([np.array([[100.0, 140.0], [180.0, 140.0]])], PEN_WIDTH)

    # 24 px wide around y = 140, and 12 px of round cap beyond each end.
    assert box(ink > 0.5) == (128, 151, 88, 191)
    assert (ink[:, 140] > 0.5).sum() == PEN_WIDTH
    # Area: the 80 x 24 body and one whole disc of radius 12 from the two caps.
    assert ink.sum() == pytest.approx(80 * 24 + np.pi * 12**2, rel=0.01)
    # Anti-aliased: the cap's edge has grey levels, not only 0 and 1.
    edge = ink[126:154, 86:92]
    assert ((edge > 0.05) & (edge < 0.95)).sum() >= 4


def test_a_single_point_is_a_dot_the_width_of_the_pen():
    ink = ink_from_strokes([np.array([[140.0, 140.0]])], 20)

    assert box(ink > 0.5) == (130, 149, 130, 149)
    assert ink.sum() == pytest.approx(np.pi * 10**2, rel=0.02)


def test_every_stroke_of_a_multi_stroke_digit_is_drawn():
    one_stroke = ink_from_strokes([np.array([[60.0, 60.0], [220.0, 60.0]])], PEN_WIDTH)
    two_strokes = ink_from_strokes(
        [np.array([[60.0, 60.0], [220.0, 60.0]]), np.array([[140.0, 100.0], [140.0, 240.0]])],
        PEN_WIDTH,
    )

    assert box(two_strokes > 0.5) == (48, 251, 48, 231)
    assert two_strokes.sum() > one_stroke.sum() * 1.6


def test_the_source_y_grows_upward_so_its_top_stroke_is_drawn_at_the_top():
    # A "7": the bar at y = 400 (the top, in tablet units), the stem down to y = 100.
    seven = digit([(100, 400), (300, 400)], [(300, 400), (150, 100)])

    (bar, stem), _ = place(seven, np.random.default_rng(0), FIXED)

    assert bar[:, 1].max() < stem[:, 1].max()  # canvas y grows downward
    assert stem[-1, 1] == pytest.approx(stem[:, 1].max())  # the stem ends at the bottom
    assert stem[-1, 0] < stem[0, 0]  # and to the left, as written


def test_placing_scales_the_ink_to_the_drawn_height_and_keeps_it_on_the_canvas():
    seven = digit([(100, 400), (300, 400)], [(300, 400), (150, 100)])
    rng = np.random.default_rng(1)

    for _ in range(50):
        strokes, pen = place(seven, rng, AS_DRAWN)
        points = np.concatenate(strokes)
        low, high = points.min(axis=0) - pen / 2, points.max(axis=0) + pen / 2
        assert low.min() >= -0.1 and high.max() <= CANVAS_SIZE + 0.1
        assert AS_DRAWN.height[0] * CANVAS_SIZE - 1 <= high[1] - low[1]
        assert high[1] - low[1] <= AS_DRAWN.height[1] * CANVAS_SIZE + 1
        assert AS_DRAWN.pen_width[0] <= pen <= AS_DRAWN.pen_width[1]


def test_a_wide_digit_is_drawn_smaller_so_it_fits_the_canvas():
    dash = digit([(0, 200), (500, 210)], label=1)

    (stroke,), pen = place(dash, np.random.default_rng(2), FIXED)

    assert np.ptp(stroke[:, 0]) + pen == pytest.approx(FIXED.max_width * CANVAS_SIZE, abs=0.2)


def test_points_are_kept_as_the_page_records_them():
    wiggle = digit([(100, 100), (100.2, 100.3), (160, 300), (160.3, 300.1), (300, 100)])

    (stroke,), _ = place(wiggle, np.random.default_rng(3), FIXED)

    assert np.allclose(stroke, np.round(stroke, 1))
    gaps = np.hypot(*np.diff(stroke, axis=0).T)
    assert len(stroke) == 3 and gaps.min() >= MIN_POINT_DISTANCE


def test_a_rendered_digit_is_what_the_site_makes_of_the_canvas_png():
    """The shortcut (the drawn coverage is the ink) equals the page's way: a
    black-on-white canvas exported as PNG, then the API's preprocessing. Up
    to float rounding: the two reach the same ink by different arithmetic
    (1e-7 apart), which can move a grey level by one step of 255."""
    seven = digit([(100, 400), (300, 400)], [(300, 400), (150, 100)], [(120, 250), (260, 250)])
    rng = np.random.default_rng(4)
    for _ in range(5):
        state = rng.bit_generator.state
        strokes, pen = place(seven, rng, AS_DRAWN)
        ink = ink_from_strokes(strokes, pen)
        canvas = Image.fromarray(to_uint8(1.0 - ink)).convert("RGBA")  # opaque, as toDataURL
        png = io.BytesIO()
        canvas.save(png, format="PNG")
        rng.bit_generator.state = state

        rendered = render_digit(seven, rng, AS_DRAWN)

        through_png = to_uint8(preprocess_image_bytes(png.getvalue()))
        assert np.abs(rendered.astype(int) - through_png).max() <= 1


def test_render_digits_is_repeatable_and_each_copy_is_placed_anew():
    seven = digit([(100, 400), (300, 400)], [(300, 400), (150, 100)], label=7)
    one = digit([(250, 420), (250, 80)], label=1)

    images, labels = render_digits([seven, one], variation=TRAINING_VARIATION, seed=5, copies=3)
    again, _ = render_digits([seven, one], variation=TRAINING_VARIATION, seed=5, copies=3)
    other, _ = render_digits([seven, one], variation=TRAINING_VARIATION, seed=6, copies=3)

    assert images.shape == (6, 28, 28) and images.dtype == np.uint8
    assert labels.tolist() == [7, 1, 7, 1, 7, 1]
    assert np.array_equal(images, again)
    assert not np.array_equal(images, other)
    assert not np.array_equal(images[0], images[2])  # the same 7, drawn differently
    assert images.max() == 255  # the MNIST convention: peaks at full ink
