"""The admin's "Retrain" form: a preset, optionally with explicit parameters
on top. The parameters themselves are checked by training.params, the same
rules the API and the train command use."""

from typing import Any

from django import forms

from training.ml.architectures import ARCHITECTURES
from training.params import (
    DEFAULT_PRESET,
    PRESETS,
    SCHEDULES,
    ParamsError,
    TrainingParams,
    params_resolve,
)


def _preset_label(name: str) -> str:
    values = PRESETS[name]
    members = f" x{values['members']}" if values.get("members", 1) > 1 else ""
    augment = ", augmented" if values.get("augment") else ""
    return f"{name}: {values['architecture']}{members}, {values['epochs']} epochs{augment}"


class RetrainForm(forms.Form):
    preset = forms.ChoiceField(
        choices=[(name, _preset_label(name)) for name in PRESETS], initial=DEFAULT_PRESET
    )
    architecture = forms.ChoiceField(
        choices=[("", "(the preset's)")] + [(name, name) for name in ARCHITECTURES],
        required=False,
    )
    epochs = forms.IntegerField(required=False, min_value=1, max_value=200)
    members = forms.IntegerField(
        required=False, min_value=1, max_value=8, help_text="Models trained and averaged."
    )
    batch_size = forms.IntegerField(required=False, min_value=8, max_value=2048)
    learning_rate = forms.FloatField(required=False, min_value=1e-6, max_value=1.0)
    schedule = forms.ChoiceField(
        choices=[("", "(the preset's)")] + [(name, name) for name in SCHEDULES], required=False
    )
    augment = forms.NullBooleanField(
        required=False,
        widget=forms.Select(choices=[("", "(the preset's)"), ("true", "on"), ("false", "off")]),
    )
    include_feedback = forms.BooleanField(
        required=False, initial=True, help_text="Add the labelled samples from feedback."
    )
    pen_copies = forms.IntegerField(
        label="Pen-drawn copies",
        required=False,
        min_value=0,
        max_value=16,
        help_text=(
            "Drawings of each training writer's pen-drawn digit mixed into MNIST (writers "
            "held out for the canvas score never are); 0: MNIST alone. Blank: the preset's "
            f"({TrainingParams.pen_copies} unless it sets another)."
        ),
    )
    seed = forms.IntegerField(required=False, min_value=0)
    max_train_samples = forms.IntegerField(
        required=False,
        min_value=100,
        max_value=55_000,
        help_text="At most N MNIST images and N pen-drawn digits (quick trials).",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        try:
            params_resolve(**self.job_arguments(cleaned))
        except ParamsError as exc:
            for name, message in exc.errors.items():
                self.add_error(name if name in self.fields else None, message)
        return cleaned

    def job_arguments(self, cleaned: dict[str, Any] | None = None) -> dict[str, Any]:
        """Keyword arguments for job_create: the preset and what was filled in."""
        cleaned = self.cleaned_data if cleaned is None else cleaned
        return {name: value for name, value in cleaned.items() if value not in (None, "")}
