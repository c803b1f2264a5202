import pytest

from training.params import PRESETS, ParamsError, params_resolve


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_resolves_to_complete_parameters(preset):
    params = params_resolve(preset=preset)

    assert params.preset == preset
    assert params.architecture == PRESETS[preset]["architecture"]
    assert params.include_feedback is True
    assert params.fit_config().epochs == params.epochs


def test_explicit_values_override_the_preset():
    params = params_resolve(preset="standard", epochs=3, augment=False, learning_rate=1e-3)

    assert (params.epochs, params.augment, params.learning_rate) == (3, False, 1e-3)


def test_no_preset_means_the_admin_default_standard():
    assert params_resolve().preset == "standard"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"epochs": 0}, "epochs"),
        ({"epochs": True}, "epochs"),
        ({"batch_size": 3}, "batch_size"),
        ({"learning_rate": 5}, "learning_rate"),
        ({"schedule": "triangle"}, "schedule"),
        ({"architecture": "resnet"}, "architecture"),
        ({"augment": "yes"}, "augment"),
        ({"max_train_samples": 10}, "max_train_samples"),
        ({"seed": -1}, "seed"),
        ({"members": 9}, "members"),
        ({"label_smoothing": 0.7}, "label_smoothing"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_each_bad_value_is_named_in_the_error(overrides, field):
    with pytest.raises(ParamsError) as error:
        params_resolve(preset="quick", **overrides)

    assert field in error.value.errors
