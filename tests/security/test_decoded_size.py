"""A small upload cannot cost a lot of memory: the decoded size is checked
from the header before decoding, JPEGs decode reduced, and large images are
brought down to the working size before any float copy."""

import io
import struct
import zlib

import pytest
from PIL import Image, ImageDraw

from recognizer.imaging.decoding import ImageLimits, PreprocessingError, decode_image
from recognizer.models import Submission
from tests.conftest import HttpsClient
from tests.figures import record
from tests.peak_memory import run_fresh


def png_16bit_rgba(width: int, height: int) -> bytes:
    """A blank 16-bit RGBA PNG (Pillow writes none), compressed row by row."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + width * 8)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 16, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def test_the_decoded_size_is_refused_from_the_header_before_decoding():
    data = png_16bit_rgba(4096, 4096)

    with pytest.raises(PreprocessingError, match=r"would take 64 MiB decoded; the limit is 32"):
        decode_image(data, ImageLimits())
    assert len(data) < 200_000


@pytest.mark.django_db
def test_a_small_upload_that_decodes_huge_is_a_400_and_stores_nothing(active_model):
    data = png_16bit_rgba(4096, 4096)

    upload = io.BytesIO(data)
    upload.name = "bomb.png"
    response = HttpsClient().post("/api/v1/predictions/", {"image": upload})

    assert response.status_code == 400
    assert response.json()["code"] == "too_large"
    assert "MiB" in response.json()["message"]
    assert not Submission.objects.exists()


def test_a_large_jpeg_is_decoded_reduced():
    photo = Image.new("RGB", (4000, 3000), "white")
    ImageDraw.Draw(photo).line([(2000, 600), (2000, 2400)], fill="black", width=120)
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=90)

    image = decode_image(buffer.getvalue(), ImageLimits())

    assert max(image.size) <= 2000  # libjpeg's 1/2 scale at least; 1024 after the box step


# The worst single image the limits allow: 32 MiB decoded (a 2896x2896 RGBA
# drawing), through the site's whole preprocessing, in a fresh process whose
# peak resident memory (tests/peak_memory.py, once the modules are imported
# and the upload read) is compared with its resident memory then.
_MEASURE = """
import json, sys
from pathlib import Path
from recognizer.imaging.mnist import preprocess_image_bytes
from tests.peak_memory import peak_growth

data = Path(sys.argv[1]).read_bytes()
with peak_growth() as measured:
    digit = preprocess_image_bytes(data)
print(json.dumps({"bytes": len(data), "peak_growth_mib": measured["mib"],
                  "ink_pixels": int((digit > 0.5).sum())}))
"""


def test_the_worst_allowed_single_image_costs_a_bounded_amount_of_memory(tmp_path):
    image = Image.new("RGBA", (2896, 2896), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(1448, 400), (1448, 2500)], fill=(0, 0, 0, 255), width=160)
    upload = tmp_path / "worst.png"
    image.save(upload, "PNG", compress_level=1)

    measured = run_fresh(_MEASURE, str(upload), timeout=120)

    # The decoded image (32 MiB) plus the 1024 px working copy and its floats
    # (69 MiB measured here; 294 MiB before the limit and the working size).
    assert 20 < measured["peak_growth_mib"] < 96, measured
    assert measured["ink_pixels"] > 20  # and it still reads as a stroke
    record(
        "security-8",
        title="Memory of the worst single image the limits allow (2896x2896 RGBA, 32 MiB decoded)",
        command="make test ARGS='tests/security/test_decoded_size.py'",
        outcome=f"peak resident memory grew {measured['peak_growth_mib']:.0f} MiB while "
        f"preprocessing a {measured['bytes'] / 1024:.0f} KB upload (before this limit and "
        "the working size: 294 MiB, measured the same way)",
        peak_growth_mib=round(measured["peak_growth_mib"], 1),
        upload_bytes=measured["bytes"],
        decoded_limit_mib=ImageLimits.max_decoded_bytes // 2**20,
    )
