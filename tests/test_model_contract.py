"""Every registered network keeps the contract of tfsignal.models.Model."""

import pytest
import torch
from torch import nn

from tfsignal import models

SMALLEST = ["mambattention-tiny", "mambattention-stream", "meg-gpt-tiny", "mptsnet-cpu", "tiger-tiny", "tspulse"]
SMALLEST += ["sample-tokenizer", "tfm-tokenizer"]
HEADS = {"tspulse": {"n_classes": 3}}  # its forward is the classifier, which pre-training leaves out


@pytest.mark.parametrize("name", models.available())
def test_each_name_builds_a_model_that_knows_its_name(name):
    model = models.create(name)
    assert isinstance(model, models.Model) and model.name == name
    assert isinstance(model.config, models.model_class(name).Config)


@pytest.mark.parametrize("name", SMALLEST)
def test_example_inputs_run_a_forward_pass(name):
    model = models.create(name, **HEADS.get(name, {})).eval()
    with torch.no_grad():
        out = model(*model.example_inputs())
    assert all(torch.isfinite(t).all() for t in (out if isinstance(out, tuple) else (out,)) if torch.is_tensor(t))


def test_a_changed_config_keeps_the_nearest_name_and_round_trips(tmp_path):
    model = models.create("tiger-tiny", n_repeats=1)  # no longer the tiny configuration
    assert model.name == "tiger-small"  # the class's plain name; the saved config holds the rest
    again = models.load(model.save(tmp_path / "t"))
    assert again.config == model.config and isinstance(again, type(model))
    with pytest.raises(ValueError, match="not a MPTSNet"):
        models.model_class("mptsnet").load(tmp_path / "t")


def test_only_models_register():
    with pytest.raises(TypeError, match="not a tfsignal.models.Model subclass"):
        models.register("plain-linear", nn.Linear)
