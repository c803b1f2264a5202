import sys
import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mnistsite.queued_work import BrokerUnavailable
from training.ml.fit import EpochMetrics
from training.params import PRESETS, ParamsError
from training.reports import confusion_table, per_class_table
from training.runner import run_job
from training.services import TrainingBusy, job_create

BAR_WIDTH = 30
# `--wait` behind a running job: how often to ask again.
BUSY_POLL_SECONDS = 5


class Command(BaseCommand):
    help = (
        "Create a training job. Without --wait it is queued for the training worker "
        "and its id printed; with --wait it runs here, with progress and the final metrics."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--preset", choices=list(PRESETS), default="standard")
        parser.add_argument("--architecture")
        parser.add_argument("--epochs", type=int)
        parser.add_argument("--batch-size", type=int)
        parser.add_argument("--learning-rate", type=float)
        parser.add_argument("--schedule", choices=["cosine", "constant"])
        parser.add_argument("--augment", action="store_true", default=None)
        parser.add_argument("--no-augment", dest="augment", action="store_false")
        parser.add_argument("--no-feedback", dest="include_feedback", action="store_false")
        parser.add_argument("--seed", type=int)
        parser.add_argument("--members", type=int, help="train N models and average them")
        parser.add_argument(
            "--pen-copies",
            type=int,
            metavar="N",
            help="mix N drawings of each training writer's pen-drawn digit into MNIST "
            "(0: MNIST alone)",
        )
        parser.add_argument("--max-train-samples", type=int)
        parser.add_argument("--wait", action="store_true", help="run in the foreground")

    def handle(self, *args, **options) -> None:
        overrides = {
            name: options[name]
            for name in ("architecture", "epochs", "batch_size", "learning_rate", "schedule",
                         "augment", "seed", "max_train_samples", "members", "pen_copies")
            if options[name] is not None
        }  # fmt: skip
        if options["include_feedback"] is False:
            overrides["include_feedback"] = False
        try:
            job = job_create(preset=options["preset"], enqueue=not options["wait"], **overrides)
        except ParamsError as exc:
            raise CommandError(f"Invalid parameters: {exc}") from None
        except BrokerUnavailable as exc:
            raise CommandError(f"Could not queue the job: {exc}") from None
        if not options["wait"]:
            self.stdout.write(f"Queued training job {job.pk} ({job.preset}, {job.epochs} epochs).")
            return
        self.stdout.write(f"Training job {job.pk}: {job.params}")
        outcome = self._run_when_free(job)
        if outcome is None or outcome.version is None:
            raise CommandError(f"Training job {job.pk} ended {getattr(outcome, 'status', '?')}: "
                               f"{getattr(outcome, 'error', '')}")  # fmt: skip
        version = outcome.version
        self.stdout.write(
            f"\nModel v{version.version} ({version.architecture}, {version.parameter_count:,} "
            f"parameters){' is active' if version.is_active else ''}\n"
            f"MNIST test accuracy {version.test_accuracy:.4%}, loss {version.test_loss:.4f}\n"
        )
        self.stdout.write(per_class_table(version.per_class_accuracy))
        self.stdout.write(confusion_table(version.confusion_matrix))
        if version.canvas_accuracy is None:
            self.stdout.write("\nNo canvas score: the job had no pen-drawn digits.")
            return
        self.stdout.write(
            f"\nCanvas accuracy {version.canvas_accuracy:.4%} "
            f"(held-out writers' pen-drawn digits, drawn as the drawing page draws them)\n"
        )
        self.stdout.write(per_class_table(version.canvas_per_class_accuracy))
        self.stdout.write(confusion_table(version.canvas_confusion_matrix))

    def _run_when_free(self, job):
        """Run the job here, after the one that is training now, if any."""
        waiting = False
        while True:
            try:
                return run_job(job.pk, watcher=_ProgressBar(self.stdout, job.epochs))
            except TrainingBusy as busy:
                if not waiting:
                    self.stdout.write(f"Waiting: {busy}.")
                    waiting = True
                time.sleep(BUSY_POLL_SECONDS)


class _ProgressBar:
    def __init__(self, out, epochs: int) -> None:
        self.out = out
        self.epochs = epochs

    def on_progress(self, *, epoch: int, fraction: float, eta_seconds: float | None) -> None:
        filled = int(BAR_WIDTH * fraction)
        eta = f" ETA {int(eta_seconds) // 60}m{int(eta_seconds) % 60:02d}s" if eta_seconds else ""
        line = f"\rEpoch {epoch}/{self.epochs} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "
        self.out.write(f"{line}{fraction:4.0%}{eta}   ", ending="")
        sys.stdout.flush()

    def on_epoch(self, metrics: EpochMetrics) -> None:
        self.out.write(
            f"\rEpoch {metrics.epoch}/{self.epochs} (model {metrics.member}): "
            f"loss {metrics.loss:.4f} "
            f"acc {metrics.accuracy:.4f}  val_loss {metrics.val_loss:.4f} "
            f"val_acc {metrics.val_accuracy:.4f}  {metrics.seconds:.1f}s" + " " * 20
        )
