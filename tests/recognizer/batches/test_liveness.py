"""A batch whose items are slow keeps proving it is alive, so the stale-batch
reaper never queues it again while its worker works; and if a batch is
queued again anyway (a worker that really stalled, then woke), the second
worker's run and the first one's cannot both write: each item has one
result, and the batch ends succeeded."""

import time
from datetime import timedelta

import numpy as np
import pytest

from recognizer.models import BatchResult, InferenceBatch, Submission
from recognizer.services import batches as batches_module
from recognizer.services.batches import batch_run, batches_resume_stale
from tests.recognizer.batches.uploads import create, npy_upload

ITEMS = 30
ITEM_SECONDS = 0.05  # 1.5 s in all: a hundredth of a slow 1,000-item chunk
STALE_AFTER = timedelta(seconds=0.6)


@pytest.fixture
def slow_items(monkeypatch, settings):
    """Each item takes ITEM_SECONDS to decode; `during(n, action)` runs
    `action` once, when the first run has decoded n items (as the beat task
    or another worker would, meanwhile)."""
    settings.BATCH_HEARTBEAT_SECONDS = 0.2
    original = batches_module.batch_items
    planned: dict[int, object] = {}
    depth = {"runs": 0}

    def slow(*args, **kwargs):
        depth["runs"] += 1
        outermost = depth["runs"] == 1
        try:
            for count, item in enumerate(original(*args, **kwargs), start=1):
                time.sleep(ITEM_SECONDS)
                if outermost and count in planned:
                    planned.pop(count)()
                yield item
        finally:
            depth["runs"] -= 1

    monkeypatch.setattr(batches_module, "batch_items", slow)
    return planned.__setitem__


def reap() -> tuple[int, int]:
    return batches_resume_stale(stale_after=STALE_AFTER, max_attempts=3)


@pytest.mark.django_db
def test_a_slow_batch_is_not_queued_again_while_its_worker_works(
    integrator,
    active_model,
    monkeypatch,
    slow_items,
):
    monkeypatch.setattr(batches_module, "_enqueue", lambda batch: None)
    batch_id = create(integrator, file=npy_upload(np.full((ITEMS, 28, 28), 200, np.uint8)))
    batch_id = batch_id.json()["id"]
    reaped = []
    for count in (15, 25):  # 0.75 s and 1.25 s in: past STALE_AFTER since the claim
        slow_items(count, lambda: reaped.append(reap()))

    assert batch_run(batch_id=batch_id) == "succeeded"

    assert reaped == [(0, 0), (0, 0)]
    batch = InferenceBatch.objects.get(pk=batch_id)
    assert (batch.attempts, batch.processed) == (1, ITEMS)


@pytest.mark.django_db
def test_a_batch_queued_again_while_running_is_finished_once_by_one_worker(
    integrator,
    active_model,
    monkeypatch,
    slow_items,
):
    images = np.zeros((ITEMS, 28, 28), np.uint8)
    images[:, 8:20, 12:16] = 255  # a one
    batch_id = create(integrator, file=npy_upload(images)).json()["id"]
    second = {}

    def stall_then_second_worker() -> None:
        # The first worker stalled past the threshold (its heartbeat is old):
        # the reaper queues the batch again and a second worker runs it.
        InferenceBatch.objects.filter(pk=batch_id).update(
            heartbeat_at=InferenceBatch.objects.get(pk=batch_id).heartbeat_at - 2 * STALE_AFTER
        )
        assert reap() == (1, 0)
        second["status"] = batch_run(batch_id=batch_id)

    monkeypatch.setattr(batches_module, "_enqueue", lambda batch: None)
    slow_items(10, stall_then_second_worker)

    first = batch_run(batch_id=batch_id)

    assert (first, second["status"]) == (None, "succeeded")  # the first saw it was not its own
    batch = InferenceBatch.objects.get(pk=batch_id)
    assert (batch.status, batch.attempts, batch.processed) == ("succeeded", 2, ITEMS)
    indexes = list(BatchResult.objects.filter(batch_id=batch_id).values_list("index", flat=True))
    assert sorted(indexes) == list(range(ITEMS))
    assert Submission.objects.count() == ITEMS
