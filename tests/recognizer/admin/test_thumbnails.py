"""The admin's pictures of a submission (recognizer/admin/thumbnails.py), served
by staff-only views, never inlined: what was drawn, and what the model saw."""

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from recognizer.admin.thumbnails import thumbnail_png
from recognizer.services.submission_images import seen_image
from tests.harness.canvas import ONE, SEVEN
from tests.recognizer.admin.conftest import (
    CHANGELIST,
    png_of,
    predict,
    predict_pixels,
)

pytestmark = pytest.mark.django_db


def test_original_thumbnail_is_a_small_png_of_the_drawing(staff, visitor):
    submission = predict(visitor, SEVEN)

    response = staff.get(f"{CHANGELIST}{submission.pk}/image/original.png")

    image = png_of(response)
    assert image.size == (96, 96)  # the 280x280 canvas, shrunk
    assert response["Cache-Control"] == "private, max-age=3600"
    pixels = np.asarray(image.convert("L"))
    assert pixels[0, 0] == 255 and pixels.min() < 64  # dark ink on white, as drawn
    large = png_of(staff.get(f"{CHANGELIST}{submission.pk}/image/original.png?size=large"))
    assert large.size == (280, 280)


def test_thumbnail_keeps_the_aspect_ratio_and_flattens_transparency_onto_white(staff, visitor):
    drawing = Image.new("RGBA", (1200, 600), (0, 0, 0, 0))  # a transparent canvas
    ImageDraw.Draw(drawing).line([(600, 100), (600, 500)], fill=(0, 0, 0, 255), width=60)
    buffer = io.BytesIO()
    drawing.save(buffer, format="PNG")
    submission = predict(visitor, png=buffer.getvalue())

    image = png_of(staff.get(f"{CHANGELIST}{submission.pk}/image/original.png"))

    assert image.size == (96, 48) and image.mode == "RGB"
    pixels = np.asarray(image.convert("L"))
    assert pixels[0, 0] == 255 and pixels[24, 48] < 64


def test_thumbnail_follows_the_exif_orientation_as_the_model_does(staff, visitor):
    photo = Image.new("RGB", (400, 200), "white")
    ImageDraw.Draw(photo).line([(100, 100), (300, 100)], fill="black", width=30)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: turn 90 degrees clockwise to show
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", exif=exif.tobytes())
    submission = predict(visitor, png=buffer.getvalue())

    image = png_of(staff.get(f"{CHANGELIST}{submission.pk}/image/original.png"))

    assert image.size == (48, 96)


@pytest.mark.parametrize("mode", ["I;16", "P", "LA"])
def test_thumbnail_of_unusual_image_modes_is_dark_ink_on_white(mode):
    ink = Image.new("L", (120, 120), 0)
    ImageDraw.Draw(ink).line([(60, 10), (60, 110)], fill=255, width=20)
    if mode == "I;16":  # 16-bit grey, dark on light: clipped to 8 bits, all would be white
        image = Image.fromarray(np.where(np.asarray(ink) > 0, 5000, 65535).astype(np.uint16))
    elif mode == "P":  # a palette with a transparent background
        image = Image.new("P", (120, 120), 0)
        image.putpalette([255, 0, 255, 0, 0, 0])
        image.paste(1, mask=ink)
        image.info["transparency"] = 0
    else:  # black ink on a transparent background
        image = Image.merge("LA", [Image.new("L", (120, 120), 0), ink])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")

    thumbnail = Image.open(io.BytesIO(thumbnail_png(buffer.getvalue(), size=96)))

    pixels = np.asarray(thumbnail.convert("L"))
    assert thumbnail.size == (96, 96) and thumbnail.mode == "RGB"
    assert pixels[5, 5] == 255 and pixels[48, 48] < 32


def test_seen_is_the_28x28_the_model_saw_at_56x56(staff, visitor):
    submission = predict(visitor, ONE)

    image = png_of(staff.get(f"{CHANGELIST}{submission.pk}/image/seen.png"))

    assert image.size == (56, 56) and image.mode == "L"
    seen = seen_image(submission.preprocessed.name)
    assert np.array_equal(np.asarray(image)[::2, ::2], seen)
    assert np.array_equal(np.asarray(image)[1::2, 1::2], seen)  # nearest, no blur


def test_a_pixel_array_submission_shows_its_28x28_as_the_original(staff, api_client):
    submission = predict_pixels(api_client)
    assert submission.image.name == "" and submission.image_format == "pixels"

    image = png_of(staff.get(f"{CHANGELIST}{submission.pk}/image/original.png"))

    assert image.size == (56, 56)
    assert staff.get(f"{CHANGELIST}{submission.pk}/change/").status_code == 200


def test_image_of_an_unknown_submission_is_404(staff, active_model):
    assert staff.get(f"{CHANGELIST}999999/image/original.png").status_code == 404
    assert staff.get(f"{CHANGELIST}999999/image/seen.png").status_code == 404
