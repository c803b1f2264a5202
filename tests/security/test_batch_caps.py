"""A small batch upload cannot make the server store or hold a lot: a ZIP's
unpacked total is capped when the batch is created, and an item keeps its
upload only when it is small, else a small grey PNG of it."""

import io
import zipfile

import pytest
from PIL import Image, ImageDraw

from recognizer.imaging.containers import KEEP_ORIGINAL_BYTES
from recognizer.models import InferenceBatch, Submission
from recognizer.services.batches import batch_run
from recognizer.submission_store import image_read
from tests.figures import record
from tests.peak_memory import run_fresh

URL = "/api/v1/batches/"


def uncompressed_png(side: int) -> bytes:
    """A PNG whose pixels are stored, not compressed (level 0): megabytes on
    disk, a few KB once zipped (the attack's shape), with a one drawn on it."""
    image = Image.new("L", (side, side), 255)
    ImageDraw.Draw(image).line([(side // 2, side // 5), (side // 2, side * 4 // 5)], 0, side // 12)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=0)
    return buffer.getvalue()


def zip_upload(files: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    buffer.seek(0)
    buffer.name = "drawings.zip"
    return buffer


@pytest.mark.django_db
def test_a_zip_that_unpacks_past_the_cap_is_refused_and_stores_nothing(
    integrator, active_model, settings
):
    settings.BATCH_MAX_UNPACKED_BYTES = 8 * 1024 * 1024
    big = uncompressed_png(2200)  # 4.8 MB, as in the report
    upload = zip_upload({f"copy-{n}.png": big for n in range(2)})

    response = integrator.post(URL, {"file": upload})

    assert len(upload.getvalue()) < 100_000 and len(big) > 4_000_000
    assert response.status_code == 400
    assert response.json()["code"] == "batch_too_large"
    assert "8,388,608" in response.json()["message"]
    assert not InferenceBatch.objects.exists() and not Submission.objects.exists()


@pytest.mark.django_db
def test_a_big_item_is_kept_as_a_small_grey_png_and_a_small_one_as_sent(integrator, active_model):
    big = uncompressed_png(2200)
    small = uncompressed_png(100)
    assert len(small) <= KEEP_ORIGINAL_BYTES < len(big)
    upload = zip_upload({"big.png": big, "small.png": small})
    batch_id = integrator.post(URL, {"file": upload}).json()["id"]

    assert batch_run(batch_id=batch_id) == "succeeded"

    kept = {s.batch_result.ref: s for s in Submission.objects.select_related("batch_result")}
    assert image_read(kept["small.png"].image.name) == small
    big_kept = image_read(kept["big.png"].image.name)
    stored = Image.open(io.BytesIO(big_kept))
    assert (stored.format, stored.mode, max(stored.size)) == ("PNG", "L", 280)
    assert len(big_kept) < 20_000
    assert [kept[name].digit for name in ("big.png", "small.png")] == [1, 1]


# Reading the worst ZIP the default limits let through: 64 MiB of upload
# holding 256 MiB unpacked, as 4.8 MB PNGs (the report's attack), every item
# decoded and kept in memory for two chunks at a time, as the worker does.
_MEASURE = """
import json, sys
from pathlib import Path
from recognizer.imaging.containers import batch_items
from recognizer.imaging.decoding import ImageLimits
from tests.peak_memory import peak_growth

payload = Path(sys.argv[1]).read_bytes()
held, kept = [], 0
with peak_growth() as measured:
    for item in batch_items(payload, "zip", ImageLimits()):
        held = (held + [item])[-2000:]  # two chunks of 1,000, as the worker holds them
        kept += len(item.digit_input.original)
print(json.dumps({"items": len(held), "kept_bytes": kept, "peak_growth_mib": measured["mib"]}))
"""


@pytest.mark.parametrize(
    ("shape", "side", "members"),
    [("big images", 2200, None), ("many images", 160, 10_000)],  # None: as many as fit
)
def test_the_worst_zip_the_limits_allow_is_read_in_bounded_memory(tmp_path, shape, side, members):
    big = uncompressed_png(side)
    members = members or (256 * 1024 * 1024) // len(big)
    assert members * len(big) <= 256 * 1024 * 1024
    archive = tmp_path / "worst.zip"
    archive.write_bytes(zip_upload({f"{n}.png": big for n in range(members)}).getvalue())

    measured = run_fresh(_MEASURE, str(archive), timeout=300)

    assert measured["items"] == min(members, 2000)
    assert measured["kept_bytes"] <= members * min(len(big), 64 * 1024)
    assert measured["peak_growth_mib"] < 150, measured
    record(
        f"security-9-{shape.replace(' ', '-')}",
        title=f"Reading the worst ZIP batch the limits allow, {shape} ({members:,} PNGs of "
        f"{len(big) / 1024:,.0f} KB, {archive.stat().st_size / 1024:,.0f} KB zipped)",
        command="make test ARGS='tests/security/test_batch_caps.py'",
        outcome=f"peak resident memory grew {measured['peak_growth_mib']:.0f} MiB; the items keep "
        f"{measured['kept_bytes'] / 1024:,.0f} KB in all (as sent up to 64 KB, else grey PNGs "
        f"of 280 px), of {members * len(big) / 2**20:,.0f} MiB sent",
        items=members,
        peak_growth_mib=round(measured["peak_growth_mib"], 1),
        kept_kib=round(measured["kept_bytes"] / 1024),
    )
