"""The admin's charts of model versions and jobs, as inline SVG: a version's
per-digit accuracy and confusion matrices (MNIST test and canvas), training
curves, and the accuracy history of every version."""

from datetime import UTC, datetime

from training.admin import charts
from training.admin.canvas import CANVAS_SET, DIGITS, HELD_OUT, pen_drawn_summary, percent
from training.models import ModelVersion
from training.selectors import AccuracyHistory, LiveAccuracy, active_version


def live_of(version: ModelVersion) -> LiveAccuracy:
    """The live accuracy annotated by `model_versions_with_live_accuracy`."""
    return LiveAccuracy(getattr(version, "live_right", 0), getattr(version, "live_labelled", 0))


def version_pictures(version: ModelVersion) -> dict:
    """The version page's numbers and charts (template context)."""
    live = live_of(version)
    pictures = {
        "live": live,
        "live_shown": percent(live.accuracy),
        "test_shown": percent(version.test_accuracy),
        "canvas_shown": percent(version.canvas_accuracy),
        "canvas_count": f"{sum(map(sum, version.canvas_confusion_matrix)):,}",
        "held_out_writers": HELD_OUT,
        "pen_drawn": pen_drawn_summary(version.dataset_fingerprint or {}),
        "active": active_version(),
        "per_class_rows": [
            (digit, percent(value)) for digit, value in enumerate(version.per_class_accuracy)
        ],
        "canvas_per_class_rows": [
            (digit, percent(value)) for digit, value in enumerate(version.canvas_per_class_accuracy)
        ],
    }
    name = f"v{version.version}"
    pictures.update(
        accuracy_charts(
            version.per_class_accuracy,
            version.confusion_matrix,
            on="MNIST test",
            name=name,
            prefix="",
            floor=0.95,
            highlight_below=0.99,
        )
    )
    # Drawings read worse than MNIST's test digits: a lower floor and threshold.
    pictures.update(
        accuracy_charts(
            version.canvas_per_class_accuracy,
            version.canvas_confusion_matrix,
            on=CANVAS_SET,
            name=name,
            prefix="canvas_",
            floor=0.8,
            highlight_below=0.95,
        )
    )
    metrics = version.training_job.metrics if version.training_job else []
    if metrics:
        pictures.update(training_curves(metrics, title=name))
    return pictures


def newest_canvas_set(history: AccuracyHistory) -> str:
    """Only scores on one canvas set compare: the history shows those on the
    newest scored version's set ("" when no version has a canvas score)."""
    return next(
        (p.canvas_set_sha256 for p in reversed(history.points) if p.canvas_accuracy is not None),
        "",
    )


def accuracy_history_svg(history: AccuracyHistory) -> str:
    """Test, live and canvas accuracy of every version over time, with a
    marker at every activation."""
    points = history.points
    newest_set = newest_canvas_set(history)

    def series(name: str, values: list[tuple[float, float, str]], style: str = "solid"):
        return charts.Series(
            name=name,
            points=[(x, y) for x, y, _ in values],
            style=style,
            labels=[label for _, _, label in values],
        )

    test = [
        (p.created_at.timestamp(), p.test_accuracy, f"v{p.version}: {percent(p.test_accuracy)}")
        for p in points
        if p.test_accuracy is not None
    ]
    live = [
        (p.created_at.timestamp(), p.live.accuracy,
         f"v{p.version}: {percent(p.live.accuracy)} of {p.live.labelled}")
        for p in points
        if p.live.accuracy is not None
    ]  # fmt: skip
    canvas = [
        (p.created_at.timestamp(), p.canvas_accuracy, f"v{p.version}: {percent(p.canvas_accuracy)}")
        for p in points
        if p.canvas_accuracy is not None and p.canvas_set_sha256 == newest_set
    ]
    markers = [
        charts.Marker(x=a.activated_at.timestamp(), label=f"v{a.version.version}")
        for a in history.activations
    ]
    return charts.line_chart_svg(
        [
            series("test accuracy (MNIST)", test),
            series("live accuracy (feedback)", live, "dashed"),
            series("canvas accuracy (held-out writers)", canvas),
        ],
        title="Accuracy of each model version over time",
        y_label="accuracy",
        x_label="when the version was made",
        markers=markers,
        x_format=_date_label,
        y_format=percent,
    )


def accuracy_charts(
    per_class: list[float],
    confusion: list[list[int]],
    *,
    on: str,
    name: str,
    prefix: str,
    floor: float,
    highlight_below: float,
) -> dict[str, str]:
    """`<prefix>per_class_svg` and `<prefix>confusion_svg`, for what there is."""
    charts_found = {}
    if per_class:
        charts_found[f"{prefix}per_class_svg"] = charts.bar_chart_svg(
            per_class,
            labels=DIGITS,
            title=f"{name}: accuracy per digit ({on})",
            range=(min(floor, min(per_class)), 1.0),
            highlight_below=highlight_below,
        )
    if confusion:
        charts_found[f"{prefix}confusion_svg"] = charts.confusion_heatmap_svg(
            confusion, title=f"{name}: confusion matrix ({on})"
        )
    return charts_found


def _date_label(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%d %b %H:%M")


def training_curves(metrics: list[dict], *, title: str) -> dict[str, str]:
    """Loss and accuracy per epoch, training and validation, as two charts."""
    epochs = [entry["epoch"] for entry in metrics]

    def curve(name: str, key: str, style: str = "solid") -> charts.Series:
        return charts.Series(
            name=name, points=[(e, entry[key]) for e, entry in zip(epochs, metrics, strict=True)],
            style=style,
        )  # fmt: skip

    return {
        "loss_svg": charts.line_chart_svg(
            [curve("training loss", "loss"), curve("validation loss", "val_loss", "dashed")],
            title=f"{title}: loss per epoch",
            y_label="loss",
            x_label="epoch",
        ),
        "accuracy_svg": charts.line_chart_svg(
            [
                curve("training accuracy", "accuracy"),
                curve("validation accuracy", "val_accuracy", "dashed"),
            ],
            title=f"{title}: accuracy per epoch",
            y_label="accuracy",
            x_label="epoch",
            y_format=percent,
        ),
    }
