"""Digits as the drawing page sends them, PNG files made without a browser,
for the tests and the benchmarks (bench/). Two kinds, on purpose:

- `canvas_png(strokes)`: pen strokes drawn as the page draws them. The
  strokes go through training.ml.pen_canvas, which builds ink.js's path
  (quadratic curves through the midpoints, round caps and joins, the page's
  pen) and fills it with browser-like anti-aliasing (checked against Chromium
  drawing through ink.js by tests/e2e/test_pen_canvas_matches_the_page.py); the PNG is
  what the page's canvas.toDataURL gives: 280x280 RGBA, opaque, black ink on
  white. This is a drawn digit.
- `mnist_png(image28)`: an MNIST digit (a person's scanned handwriting)
  inverted and upscaled to the canvas, blocky and without a pen: for tests
  that want many different real digits rather than a few drawn ones.

The strokes below are in canvas pixels, y pointing down. tests/e2e/drawing.py
draws strokes in a real browser instead, through the page itself.
"""

import base64
import io
import itertools
import math

import numpy as np
from PIL import Image

from training.ml.pen_canvas import CANVAS_SIZE, PEN_WIDTH, ink_from_strokes

Stroke = list[tuple[float, float]]
POINT_SPACING = 3.0  # canvas px between recorded points, as pointermove gives them

ONE: list[Stroke] = [[(140, 50), (140, 230)]]
SEVEN: list[Stroke] = [[(80, 60), (200, 60), (120, 230)]]


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, n: int = 24):
    return [
        (cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
        for a in (start + (end - start) * i / n for i in range(n + 1))
    ]


# One hand-like drawing per digit, about 190 px tall.
DIGITS: dict[int, list[Stroke]] = {
    0: [_arc(140, 140, 58, 95, -90, 275)],
    1: [[(112, 78), (150, 45), (146, 140), (142, 235)]],
    2: [[*_arc(138, 100, 55, 52, 190, 380, 16), (150, 160), (85, 232), (200, 230)]],
    3: [_arc(135, 92, 52, 46, -160, 90, 20) + _arc(135, 186, 58, 50, -90, 160, 20)[1:]],
    4: [[(165, 45), (80, 170), (212, 170)], [(170, 95), (168, 236)]],
    5: [[(195, 48), (105, 50), (96, 128), *_arc(140, 172, 60, 58, -140, 150, 20)]],
    6: [[(185, 52), (140, 85), (100, 150), *_arc(142, 180, 50, 52, 180, 540, 24)]],
    7: [[(78, 55), (202, 52), (150, 140), (118, 236)]],
    8: [_arc(140, 92, 45, 46, 90, 450), _arc(140, 184, 55, 50, -90, 270)],
    9: [[*_arc(136, 98, 52, 50, 0, 360), (186, 140), (178, 236)]],
}


def canvas_png(strokes: list[Stroke], *, pen_width: float = PEN_WIDTH) -> bytes:
    """The strokes drawn on the page's canvas, as its toDataURL exports them.
    Each stroke is a polyline the pen follows: the page records a point every
    few pixels along it, so its corners stay corners."""
    ink = ink_from_strokes([_as_recorded(stroke) for stroke in strokes], pen_width)
    grey = 255 - np.rint(ink * 255).astype(np.uint8)
    rgba = np.dstack([grey, grey, grey, np.full_like(grey, 255)])
    return _png(Image.fromarray(rgba, "RGBA"))


def mnist_png(image28: np.ndarray) -> bytes:
    """An MNIST digit (28x28, light on black) as a canvas-sized PNG, dark on white."""
    size = (CANVAS_SIZE, CANVAS_SIZE)
    return _png(Image.fromarray(255 - image28.astype(np.uint8)).resize(size))


def data_url(png: bytes) -> str:
    """`data:image/png;base64,...`, as the page puts an image in its JSON."""
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _as_recorded(stroke: Stroke) -> np.ndarray:
    """Points every POINT_SPACING px along the polyline, its ends and corners
    included, as pointer events record a hand moving along it."""
    points = np.asarray(stroke, dtype=np.float64)
    recorded = [points[:1]]
    for start, end in itertools.pairwise(points):
        steps = max(1, math.ceil(math.dist(start, end) / POINT_SPACING))
        recorded.append(start + (end - start) * (np.arange(1, steps + 1) / steps)[:, None])
    return np.concatenate(recorded)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
