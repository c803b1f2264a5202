"""Training's renderer draws pen trajectories the way the drawing page does:
the same strokes, placed once, drawn by Chromium through the page's own
static/js/ink.js and by training/ml/pen_canvas.py, then compared as canvases
and as the 28x28 images the site's preprocessing makes of them."""

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recognizer.imaging.mnist import preprocess_image_bytes
from training.ml.mnist_style import mnist_from_ink, to_uint8
from training.ml.pen_canvas import AS_DRAWN, ink_from_strokes, place
from training.ml.pendigits import read_pendigits

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "http://ink.invalid"  # served from the checkout by request interception
PAGE = (
    "<!doctype html><canvas id=pad></canvas><script type=module>"
    'import * as ink from "/static/js/ink.js"; window.ink = ink;</script>'
)
DRAW = """([drawings]) => {
  const canvas = document.getElementById("pad");
  canvas.width = canvas.height = ink.CANVAS_SIZE;
  const ctx = canvas.getContext("2d");
  return drawings.map(([strokes, penWidth]) => {
    ink.drawStrokes(ctx, strokes, { penWidth });
    return canvas.toDataURL("image/png");
  });
}"""


@pytest.fixture(scope="module")
def ink_page(browser):
    page = browser.new_page()

    def serve(route) -> None:
        path = route.request.url.removeprefix(ORIGIN)
        if path == "/":
            route.fulfill(body=PAGE, content_type="text/html")
        elif path == "/static/js/ink.js":
            route.fulfill(path=ROOT / "static/js/ink.js", content_type="text/javascript")
        else:
            route.fulfill(status=404)

    page.route(f"{ORIGIN}/**", serve)
    page.goto(f"{ORIGIN}/")
    page.wait_for_function("window.ink !== undefined")
    yield page
    page.close()


def test_training_draws_pen_digits_as_chromium_draws_them_through_ink_js(ink_page, pendigits_dir):
    digits = read_pendigits(pendigits_dir).digits
    rng = np.random.default_rng(0)
    chosen = [digits[i] for i in rng.choice(len(digits), 150, replace=False)]
    placed = [place(digit, rng, AS_DRAWN) for digit in chosen]

    urls = ink_page.evaluate(
        DRAW, [[[[s.tolist() for s in strokes], pen] for strokes, pen in placed]]
    )
    pngs = [base64.b64decode(url.split(",", 1)[1]) for url in urls]
    ours = np.stack([ink_from_strokes(strokes, pen) for strokes, pen in placed])
    grey = np.stack([np.asarray(Image.open(io.BytesIO(png)).convert("L")) for png in pngs])
    chromium = 1.0 - grey.astype(np.float32) / 255.0

    difference = np.abs(ours - chromium)
    # The strokes' edges are anti-aliased a little differently (Agg's and
    # Skia's curve flattening). Measured here: mean 0.0005, 0.005 % of pixels
    # off by more than 0.25, ink within 0.43 % (a pen 1 px wider is 4 % more).
    assert difference.mean() < 0.002
    assert (difference > 0.25).mean() < 0.002
    ink_ratio = ours.sum(axis=(1, 2)) / chromium.sum(axis=(1, 2))
    assert np.abs(ink_ratio - 1).max() < 0.01
    # What the model sees: the site's preprocessing of Chromium's PNG against
    # the same step on our canvas. Most are a few grey levels apart; an edge
    # pixel crossing the crop's threshold can shift one by a whole pixel.
    # Measured: median 6 levels, 93 % within 48, mean 1.0 level.
    seen_ours = np.stack([to_uint8(mnist_from_ink(ink)) for ink in ours]).astype(int)
    seen_page = np.stack([to_uint8(preprocess_image_bytes(png)) for png in pngs]).astype(int)
    per_digit = np.abs(seen_ours - seen_page).max(axis=(1, 2))
    assert np.median(per_digit) <= 16
    assert (per_digit <= 48).mean() >= 0.85
    assert np.abs(seen_ours - seen_page).mean() < 2.0
