"""Training job parameters: a preset plus explicit overrides, validated with
a message per field. Shared by the admin, the API and the `train` command."""

from dataclasses import asdict, dataclass, fields
from typing import Any

from training.ml.architectures import ARCHITECTURES
from training.ml.fit import FitConfig

SCHEDULES = ("cosine", "constant")

# Measured on the 2-core reference machine: docs/benchmarks.md.
# Every preset mixes in two drawings of each training writer's pen-drawn digit:
# one read the held-out writers 3 digits worse, four no better and MNIST worse.
PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"architecture": "cnn_small", "epochs": 3, "augment": False, "pen_copies": 2},
    "standard": {"architecture": "cnn_medium", "epochs": 12, "augment": True, "pen_copies": 2},
    # Three medium models averaged: more accurate than one large model in the
    # same time, and steadier on drawings unlike MNIST (docs/benchmarks.md).
    "best": {
        "architecture": "cnn_medium",
        "epochs": 16,
        "members": 3,
        "augment": True,
        "pen_copies": 2,
    },
}
DEFAULT_PRESET = "standard"


class ParamsError(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class TrainingParams(FitConfig):
    """What a training job runs with: the fit's own settings plus the preset
    they started from and which data to train on."""

    preset: str = DEFAULT_PRESET
    include_feedback: bool = True
    # Drawings of each training writer's pen-drawn digit mixed into MNIST,
    # each placed anew (training/ml/pen_canvas.py); 0: MNIST (and feedback) only.
    pen_copies: int = 2
    # Train on the first N samples of MNIST's training part only (tests, trials).
    max_train_samples: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def fit_config(self) -> FitConfig:
        return FitConfig(**{field.name: getattr(self, field.name) for field in fields(FitConfig)})


_NAMES = {field.name for field in fields(TrainingParams)}


def _check_int(errors: dict, name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        errors[name] = "must be an integer"
    elif not low <= value <= high:
        errors[name] = f"must be between {low} and {high}"


def params_resolve(*, preset: str | None = None, **overrides: Any) -> TrainingParams:
    """The preset's values, then the overrides; every problem reported at once."""
    preset = preset or DEFAULT_PRESET
    errors: dict[str, str] = {}
    if preset not in PRESETS:
        raise ParamsError({"preset": f"must be one of {', '.join(PRESETS)}"})
    unknown = sorted(set(overrides) - _NAMES)
    for name in unknown:
        errors[name] = "is not a training parameter"
    values = {**PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}
    values["preset"] = preset
    if values["architecture"] not in ARCHITECTURES:
        errors["architecture"] = f"must be one of {', '.join(ARCHITECTURES)}"
    _check_int(errors, "epochs", values["epochs"], 1, 200)
    _check_int(errors, "batch_size", values.get("batch_size", 128), 8, 2048)
    _check_int(errors, "seed", values.get("seed", 0), 0, 2**31 - 1)
    _check_int(errors, "members", values.get("members", 1), 1, 8)
    _check_int(errors, "pen_copies", values.get("pen_copies", 2), 0, 16)
    if values.get("max_train_samples") is not None:
        _check_int(errors, "max_train_samples", values["max_train_samples"], 100, 55_000)
    rate = values.get("learning_rate", 2e-3)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 1e-6 <= rate <= 1.0:
        errors["learning_rate"] = "must be a number between 1e-6 and 1"
    smoothing = values.get("label_smoothing", 0.0)
    if (
        isinstance(smoothing, bool)
        or not isinstance(smoothing, int | float)
        or not 0 <= smoothing < 0.5
    ):
        errors["label_smoothing"] = "must be a number from 0 up to 0.5"
    if values.get("schedule", "cosine") not in SCHEDULES:
        errors["schedule"] = f"must be one of {', '.join(SCHEDULES)}"
    for flag in ("augment", "include_feedback"):
        if flag in values and not isinstance(values[flag], bool):
            errors[flag] = "must be true or false"
    if errors:
        raise ParamsError(errors)
    return TrainingParams(**{k: v for k, v in values.items() if k not in unknown})
