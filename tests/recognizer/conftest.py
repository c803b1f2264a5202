import io

from PIL import Image, ImageDraw


def drawing_png(
    strokes: list[list[tuple[float, float]]], *, size: int = 280, width: int = 22
) -> bytes:
    """Dark strokes on white, as a 280x280 canvas exports them."""
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    for stroke in strokes:
        draw.line(stroke, fill="black", width=width, joint="curve")
        for x, y in (stroke[0], stroke[-1]):
            draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


ONE = [[(140, 50), (140, 230)]]
SEVEN = [[(80, 60), (200, 60), (120, 230)]]
