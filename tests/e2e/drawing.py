"""Pen strokes for the browser tests, in the pad's canvas pixels (280x280)."""

import itertools
import math

from playwright.sync_api import Page

Stroke = list[tuple[float, float]]

CANVAS = 280

ONE: list[Stroke] = [[(135, 50), (140, 140), (145, 230)]]
SEVEN: list[Stroke] = [[(80, 60), (200, 60), (130, 230)]]
PLUS: list[Stroke] = [[(140, 60), (140, 220)], [(60, 140), (220, 140)]]


def ellipse(cx: float, cy: float, rx: float, ry: float, steps: int = 48) -> Stroke:
    return [
        (cx + rx * math.sin(2 * math.pi * i / steps), cy - ry * math.cos(2 * math.pi * i / steps))
        for i in range(steps + 1)
    ]


ZERO: list[Stroke] = [ellipse(140, 140, 55, 85)]


def draw(page: Page, strokes: list[Stroke], *, touch: bool = False) -> None:
    """Draw on #pad with the mouse (or, with touch=True, a finger through the
    DevTools protocol), moving in small steps as a hand does."""
    box = page.locator("#pad").bounding_box()
    assert box is not None

    def at(point: tuple[float, float]) -> tuple[float, float]:
        x, y = point
        return box["x"] + x * box["width"] / CANVAS, box["y"] + y * box["height"] / CANVAS

    if touch:
        _touch_draw(page, [[at(point) for point in stroke] for stroke in strokes])
        return
    for stroke in strokes:
        page.mouse.move(*at(stroke[0]))
        page.mouse.down()
        for point in stroke[1:]:
            page.mouse.move(*at(point), steps=6)
        page.mouse.up()


def _touch_draw(page: Page, strokes: list[Stroke]) -> None:
    cdp = page.context.new_cdp_session(page)
    for stroke in strokes:
        x, y = stroke[0]
        cdp.send(
            "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]}
        )
        for (x0, y0), (x1, y1) in itertools.pairwise(stroke):
            for step in range(1, 7):
                t = step / 6
                point = {"x": x0 + (x1 - x0) * t, "y": y0 + (y1 - y0) * t}
                cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def ink_pixels(page: Page) -> int:
    """How many pixels of the pad are dark: a measure of what is drawn."""
    return page.evaluate(
        """async () => {
          // The pad repaints on the next animation frame; count after it.
          await new Promise((resolve) => requestAnimationFrame(() => resolve()));
          const canvas = document.getElementById("pad");
          const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
          let dark = 0;
          for (let i = 0; i < data.length; i += 4) if (data[i] < 128) dark += 1;
          return dark;
        }"""
    )
