"""Benchmark: MNIST test digits redrawn as pen strokes on the drawing page's canvas.

    .venv/bin/python -m bench.canvas_realism [--count 2000] [--pen-widths 16,24,32]

How far is a digit drawn on the page from MNIST? Each of N MNIST test digits
(a seeded sample) is turned into the pen strokes a person could have drawn:

1. upscale 4x and threshold, thin to a one-pixel skeleton (Zhang-Suen), and
   trace the skeleton into polylines, dropping spurs shorter than ~2 MNIST px;
2. scale the strokes to a typical drawn size (ink 60-75 % of the canvas
   height, no wider than 90 % of it) at a random position on the 280x280 pad;
3. replay them in headless Chromium through static/js/ink.js, the page's own
   drawing code and pen width, and export PNGs with canvas.toDataURL;
4. preprocess the PNGs as the API does (recognizer.imaging) and classify
   them with the bundled model, next to the same digits fed to it directly.

Prints a markdown table of accuracy per digit. Needs the MNIST cache
(`python manage.py fetch_mnist`) and Debian's Chromium (/usr/bin/chromium).
"""

import argparse
import base64
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
UPSCALE = 4  # skeletons are traced at 112x112
SPUR = 2 * UPSCALE  # thinning leaves spurs at corners; shorter ones are dropped
HEIGHT_RANGE = (0.60, 0.75)  # drawn ink height, as a fraction of the canvas side
MAX_WIDTH = 0.90
POINT_SPACING = 3.0  # canvas px between recorded points, as pointermove gives them
ORIGIN = "http://bench.invalid"  # served from the checkout by request interception

Stroke = list[tuple[float, float]]


# --- MNIST digit -> strokes --------------------------------------------------


def zhang_suen(mask: np.ndarray) -> np.ndarray:
    """Thin a binary image to a one-pixel-wide skeleton (Zhang and Suen, 1984).

    Two sub-iterations, repeated until nothing changes, each deleting (at once)
    every foreground pixel with 2-6 foreground neighbours, exactly one 0->1
    transition around it, and no neighbour on two of its sides (south-east
    sides in the first pass, north-west in the second).
    """
    image = np.pad(mask.astype(np.uint8), 1)
    while True:
        changed = False
        for first in (True, False):
            c = image[1:-1, 1:-1]
            # P2..P9: north, then clockwise.
            p = [
                image[:-2, 1:-1], image[:-2, 2:], image[1:-1, 2:], image[2:, 2:],
                image[2:, 1:-1], image[2:, :-2], image[1:-1, :-2], image[:-2, :-2],
            ]  # fmt: skip
            neighbours = sum(p)
            transitions = sum((p[i] == 0) & (p[(i + 1) % 8] == 1) for i in range(8))
            p2, p4, p6, p8 = p[0], p[2], p[4], p[6]
            if first:
                sides = (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
            else:
                sides = (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
            delete = (c == 1) & (neighbours >= 2) & (neighbours <= 6) & (transitions == 1) & sides
            if delete.any():
                c[delete] = 0
                changed = True
        if not changed:
            return image[1:-1, 1:-1].astype(bool)


def _neighbours(pixels: set[tuple[int, int]], p: tuple[int, int]) -> list[tuple[int, int]]:
    """m-adjacency: a diagonal neighbour counts only when no pixel of the
    skeleton already joins the two through a shared side, so staircases do
    not look like junctions."""
    r, c = p
    sides = [(r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)]
    found = [q for q in sides if q in pixels]
    for dr in (-1, 1):
        for dc in (-1, 1):
            q = (r + dr, c + dc)
            if q in pixels and (r + dr, c) not in pixels and (r, c + dc) not in pixels:
                found.append(q)
    return found


def trace(skeleton: np.ndarray) -> list[list[tuple[int, int]]]:
    """Skeleton pixels -> polylines of (row, col): one per branch between end
    points and junctions, one per closed loop, a single pixel for a dot."""
    pixels = {(int(r), int(c)) for r, c in zip(*np.nonzero(skeleton), strict=True)}
    links = {p: _neighbours(pixels, p) for p in pixels}
    nodes = [p for p in sorted(pixels) if len(links[p]) != 2]
    walked: set[frozenset] = set()
    paths = []

    def walk(start: tuple[int, int], step: tuple[int, int]) -> list[tuple[int, int]]:
        path, previous, current = [start, step], start, step
        walked.add(frozenset((start, step)))
        while len(links[current]) == 2:
            ahead = [q for q in links[current] if q != previous]
            edge = frozenset((current, ahead[0]))
            if edge in walked:
                break
            walked.add(edge)
            path.append(ahead[0])
            previous, current = current, ahead[0]
        return path

    for node in nodes:
        if not links[node]:
            paths.append([node])
        for step in links[node]:
            if frozenset((node, step)) not in walked:
                paths.append(walk(node, step))
    for p in sorted(pixels):  # closed loops have no end points or junctions
        for step in links[p]:
            if frozenset((p, step)) not in walked:
                paths.append(walk(p, step))
    ends = {p for p in pixels if len(links[p]) == 1}
    junctions = {p for p in pixels if len(links[p]) > 2}

    def spur(path: list[tuple[int, int]]) -> bool:
        first, last = path[0], path[-1]
        return len(path) < SPUR and (
            (first in ends and last in junctions) or (last in ends and first in junctions)
        )

    return [path for path in paths if not spur(path)]


def digit_strokes(digit: np.ndarray) -> list[Stroke]:
    """A 28x28 MNIST digit -> polylines (x, y) in 112x112 pixels."""
    big = Image.fromarray(digit).resize((28 * UPSCALE,) * 2, Image.Resampling.BILINEAR)
    mask = np.asarray(big) >= 128
    strokes = []
    for path in trace(zhang_suen(mask)):
        points = np.array([(c, r) for r, c in path], dtype=np.float64)
        if len(points) > 2:  # smooth the pixel staircase, keeping both ends
            smooth = np.convolve(np.pad(points[:, 0], 1, mode="edge"), np.ones(3) / 3, "valid")
            points[1:-1, 0] = smooth[1:-1]
            smooth = np.convolve(np.pad(points[:, 1], 1, mode="edge"), np.ones(3) / 3, "valid")
            points[1:-1, 1] = smooth[1:-1]
        strokes.append([(float(x), float(y)) for x, y in points])
    return strokes


def place(
    strokes: list[Stroke], rng: np.random.Generator, *, canvas: int, pen: float
) -> list[Stroke]:
    """Scale and move the strokes to a drawn size and position on the canvas,
    then keep a point every POINT_SPACING px, as pointer events record them."""
    points = np.array([p for stroke in strokes for p in stroke])
    low, high = points.min(axis=0), points.max(axis=0)
    width, height = np.maximum(high - low, 1.0)
    ink_height = rng.uniform(*HEIGHT_RANGE) * canvas
    scale = (ink_height - pen) / height
    if width * scale + pen > MAX_WIDTH * canvas:
        scale = (MAX_WIDTH * canvas - pen) / width
    size = (high - low) * scale + pen
    slack = (canvas - size) / 2
    centre = canvas / 2 + rng.uniform(-0.7, 0.7, size=2) * slack
    origin = centre - (high - low) * scale / 2
    placed = []
    for stroke in strokes:
        xy = (np.array(stroke) - low) * scale + origin
        kept = [xy[0]]
        for point in xy[1:-1]:
            if np.hypot(*(point - kept[-1])) >= POINT_SPACING:
                kept.append(point)
        if len(xy) > 1:
            kept.append(xy[-1])
        placed.append([(round(float(x), 1), round(float(y), 1)) for x, y in kept])
    return placed


# --- strokes -> PNG, in the browser ------------------------------------------


class InkPage:
    """A headless Chromium page with static/js/ink.js loaded, the page's own
    drawing code, served from the checkout by request interception."""

    HTML = (
        "<!doctype html><canvas id=pad></canvas><script type=module>"
        'import * as ink from "/static/js/ink.js"; window.ink = ink;</script>'
    )
    BATCH = 200

    def __enter__(self) -> "InkPage":
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        self._page = self._browser.new_page()
        self._page.route(f"{ORIGIN}/**", self._serve)
        self._page.goto(f"{ORIGIN}/")
        self._page.wait_for_function("window.ink !== undefined")
        self.canvas, self.pen_width = self._page.evaluate("[ink.CANVAS_SIZE, ink.PEN_WIDTH]")
        return self

    def __exit__(self, *exc: object) -> None:
        self._browser.close()
        self._playwright.stop()

    def _serve(self, route) -> None:
        path = route.request.url.removeprefix(ORIGIN)
        if path == "/":
            route.fulfill(body=self.HTML, content_type="text/html")
        elif path == "/static/js/ink.js":
            route.fulfill(path=ROOT / "static/js/ink.js", content_type="text/javascript")
        else:
            route.fulfill(status=404)

    def render(self, drawings: list[list[Stroke]], pen_width: float) -> list[bytes]:
        """PNG bytes of each drawing, as the page's canvas.toDataURL gives them."""
        pngs = []
        for start in range(0, len(drawings), self.BATCH):
            urls = self._page.evaluate(
                """([drawings, penWidth]) => {
                  const canvas = document.getElementById("pad");
                  canvas.width = canvas.height = ink.CANVAS_SIZE;
                  const ctx = canvas.getContext("2d");
                  return drawings.map((strokes) => {
                    ink.drawStrokes(ctx, strokes, { penWidth });
                    return canvas.toDataURL("image/png");
                  });
                }""",
                [drawings[start : start + self.BATCH], pen_width],
            )
            pngs += [base64.b64decode(url.split(",", 1)[1]) for url in urls]
        return pngs


# --- the run -----------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="MNIST test digits (default 2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--pen-widths",
        default="",
        help="comma-separated pen widths in canvas px to compare (default: the page's)",
    )
    parser.add_argument("--examples", type=Path, help="save misread canvas PNGs in this folder")
    args = parser.parse_args()
    widths: list[float | None] = [float(w) for w in args.pen_widths.split(",") if w] or [None]

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mnistsite.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    import django

    django.setup()
    from django.conf import settings

    from recognizer.imaging.decoding import PreprocessingError
    from recognizer.imaging.mnist import preprocess_image_bytes
    from training.ml.artifacts import artifact_load
    from training.ml.datasets import load_mnist

    data = load_mnist(Path(settings.MNIST_CACHE_DIR))
    rng = np.random.default_rng(args.seed)
    chosen = rng.permutation(len(data.y_test))[: args.count]
    digits, labels = data.x_test[chosen], data.y_test[chosen].astype(int)

    started = time.perf_counter()
    strokes = [digit_strokes(digit) for digit in digits]
    stroke_seconds = time.perf_counter() - started
    started = time.perf_counter()
    pngs: dict[float, list[bytes]] = {}
    with InkPage() as page:
        canvas, page_pen = page.canvas, page.pen_width
        for pen in [w or page_pen for w in widths]:
            placing = np.random.default_rng(args.seed + 1)  # same positions for every pen
            drawings = [place(s, placing, canvas=canvas, pen=pen) for s in strokes]
            pngs[pen] = page.render(drawings, pen)
    render_seconds = time.perf_counter() - started

    meta = json.loads((ROOT / "training/bundled/metadata.json").read_text())
    model = artifact_load(ROOT / "training/bundled" / meta["file"], meta["sha256"])

    def classify(images: np.ndarray) -> np.ndarray:
        batches = [images[i : i + 500, ..., None] for i in range(0, len(images), 500)]
        return np.concatenate([np.asarray(model(b, training=False)) for b in batches]).argmax(1)

    direct = classify(digits.astype(np.float32) / 255.0)
    results = {}
    for pen_px, images in pngs.items():
        seen, refused = np.zeros((len(images), 28, 28), dtype=np.float32), 0
        for index, png in enumerate(images):
            try:
                seen[index] = preprocess_image_bytes(png)
            except PreprocessingError:
                refused += 1  # scored as wrong: an all-black image
        results[pen_px] = (classify(seen), refused)

    print(
        f"\n{len(labels)} MNIST test digits (seed {args.seed}) on a {canvas}x{canvas} canvas; "
        f"the page's pen is {page_pen:g} px. Strokes traced in {stroke_seconds:.1f} s, "
        f"drawn in Chromium in {render_seconds:.1f} s.\n"
    )
    print_table(labels, direct, {pen: predicted for pen, (predicted, _) in results.items()})
    print()
    for pen_px, (predicted, refused) in results.items():
        confusions = Counter(
            (int(t), int(p)) for t, p in zip(labels, predicted, strict=True) if t != p
        )
        common = ", ".join(f"{t}→{p} ({n})" for (t, p), n in confusions.most_common(6))
        refusals = f"; {refused} refused by preprocessing" if refused else ""
        print(f"- pen {pen_px:g} px: most common misreadings {common or 'none'}{refusals}.")
        if args.examples:
            folder = args.examples / f"pen-{pen_px:g}"
            folder.mkdir(parents=True, exist_ok=True)
            wrong = np.flatnonzero(predicted != labels)[:60]
            for index in wrong:
                name = f"{chosen[index]:05d}-drawn-{labels[index]}-read-{predicted[index]}.png"
                (folder / name).write_bytes(pngs[pen_px][index])
    print(f"\nCommand: .venv/bin/python -m bench.canvas_realism {' '.join(sys.argv[1:])}".rstrip())


def print_table(labels: np.ndarray, direct: np.ndarray, drawn: dict[float, np.ndarray]) -> None:
    header = " | ".join(f"drawn, pen {pen:g} px" for pen in drawn)
    print(f"| digit | count | MNIST fed directly | {header} |")
    print("| --- " * (3 + len(drawn)) + "|")

    def cell(right: np.ndarray) -> str:
        return f"{100 * right.mean():.2f} %"

    for digit in range(10):
        rows = labels == digit
        cells = " | ".join(cell(p[rows] == digit) for p in drawn.values())
        print(f"| {digit} | {rows.sum()} | {cell(direct[rows] == digit)} | {cells} |")
    cells = " | ".join(f"**{cell(p == labels)}**" for p in drawn.values())
    print(f"| all | {len(labels)} | **{cell(direct == labels)}** | {cells} |")


if __name__ == "__main__":
    main()
