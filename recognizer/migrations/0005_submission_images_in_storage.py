"""Submission images move from the database into the `submissions` storage.

Each row's bytes are written under keys named by its id (`migrated/<id>.png`,
`migrated/<id>-seen.png`), so a migration that stopped half way and runs
again writes the same keys. The 784 raw bytes of the 28x28 become a grey PNG.
Rows are read a few hundred at a time, so memory stays bounded however big
the table is. Reversible: the files are read back into the columns.
"""

import io

import numpy as np
from django.core.files.base import ContentFile
from django.db import migrations, models
from django.db.models import Q
from PIL import Image

import recognizer.submission_store

SUFFIXES = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
CHUNK = 500


def _storage():
    from django.core.files.storage import storages

    return storages["submissions"]


def _seen_png(raw: bytes) -> bytes:
    buffer = io.BytesIO()
    image = Image.fromarray(np.frombuffer(raw, dtype=np.uint8).reshape(28, 28))
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _save(storage, key: str, data: bytes) -> str:
    storage.delete(key)  # a run that stopped half way wrote it already
    saved = storage.save(key, ContentFile(data))
    if saved != key:
        raise RuntimeError(f"the submission store saved {key} as {saved}")
    return saved


def images_to_storage(apps, schema_editor):
    Submission = apps.get_model("recognizer", "Submission")
    storage = _storage()
    rows = Submission.objects.only("pk", "image_bytes", "image_format", "preprocessed_bytes")
    for row in rows.order_by("pk").iterator(chunk_size=CHUNK):
        image = ""
        if row.image_bytes:
            suffix = SUFFIXES.get(row.image_format, "bin")
            image = _save(storage, f"migrated/{row.pk}.{suffix}", bytes(row.image_bytes))
        seen = _save(storage, f"migrated/{row.pk}-seen.png", _seen_png(bytes(row.preprocessed_bytes)))
        Submission.objects.filter(pk=row.pk).update(image=image, preprocessed=seen)


def images_to_database(apps, schema_editor):
    Submission = apps.get_model("recognizer", "Submission")
    storage = _storage()
    for row in Submission.objects.only("pk", "image", "preprocessed").iterator(chunk_size=CHUNK):
        image = b""
        if row.image.name:
            with storage.open(row.image.name) as file:
                image = file.read()
        with storage.open(row.preprocessed.name) as file, Image.open(file) as seen:
            raw = np.asarray(seen.convert("L"), dtype=np.uint8).tobytes()
        Submission.objects.filter(pk=row.pk).update(image_bytes=image, preprocessed_bytes=raw)


class Migration(migrations.Migration):

    dependencies = [
        ("recognizer", "0004_queued_work_status_constraint"),
    ]

    operations = [
        migrations.RenameField("submission", "image", "image_bytes"),
        migrations.RenameField("submission", "preprocessed", "preprocessed_bytes"),
        migrations.AlterField(
            "submission", "preprocessed_bytes", models.BinaryField(blank=True, default=b"")
        ),
        migrations.AddField(
            model_name="submission",
            name="image",
            field=models.FileField(
                blank=True,
                max_length=100,
                storage=recognizer.submission_store.submission_storage,
                upload_to="",
            ),
        ),
        migrations.AddField(
            model_name="submission",
            name="preprocessed",
            field=models.FileField(
                default="",
                max_length=100,
                storage=recognizer.submission_store.submission_storage,
                upload_to="",
            ),
            preserve_default=False,
        ),
        migrations.RunPython(images_to_storage, images_to_database, elidable=True),
        migrations.RemoveField("submission", "image_bytes"),
        migrations.RemoveField("submission", "preprocessed_bytes"),
        migrations.AddIndex(
            model_name="submission",
            index=models.Index(
                condition=~Q(image=""),
                fields=["created_at"],
                name="submission_original_kept",
            ),
        ),
    ]
