"""Enhancement recipes run end to end on a tiny local copy built from the fixtures."""

import json

import numpy as np
import pytest

from tfsignal import models
from tfsignal.io import load_audio, save_audio


@pytest.fixture
def vbd_root(tmp_path, data_dir):
    speech, _ = load_audio(data_dir / "speech_libri.flac")
    rain, _ = load_audio(data_dir / "noise_rain.flac")
    for kind in ("trainset_28spk", "testset"):
        (tmp_path / f"clean_{kind}_wav").mkdir()
        (tmp_path / f"noisy_{kind}_wav").mkdir()
        for i in range(4):
            clean = speech[i * 8000 : i * 8000 + 16000]
            save_audio(tmp_path / f"clean_{kind}_wav/p{i}.wav", clean, 16000)
            save_audio(tmp_path / f"noisy_{kind}_wav/p{i}.wav", clean + 0.5 * rain[:16000], 16000)
    return tmp_path


def test_vb_demandex_recipe_trains_validates_and_saves(vbd_root, tmp_path, capsys):
    from recipes.enhancement.vb_demandex.train import main

    out = tmp_path / "run"
    args = ["--root", str(vbd_root), "--out", str(out), "--model", "mambattention-tiny", "--steps", "2"]
    args += ["--batch-size", "2", "--segment-seconds", "0.25", "--val-every", "2", "--val-stride", "2"]
    assert main([*args, "--val-clips", "1", "--num-workers", "0", "--device", "cpu"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["train_pairs"] == 2 and summary["val_pairs"] == 1 and summary["steps"] == 2
    assert np.isfinite(summary["last_val"]["pesq"])
    assert models.load(out / "best.json").config.channels == 16


def test_recipe_refuses_a_folder_without_pairs(tmp_path, capsys):
    from recipes.enhancement.vb_demandex.train import main

    assert main(["--root", str(tmp_path), "--out", str(tmp_path / "run")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_starter_recipe_fine_tunes_the_shipped_weights(tmp_path, data_dir, capsys):
    from safetensors.torch import load_file

    from recipes.enhancement.starter.train import main

    speech, _ = load_audio(data_dir / "speech_libri.flac")
    rain, _ = load_audio(data_dir / "noise_rain.flac")
    save_audio(tmp_path / "clean.wav", speech[:32000], 16000)
    save_audio(tmp_path / "noise.wav", rain[:32000], 16000)
    for kind, x in (("clean", speech[:16000]), ("noisy", speech[:16000] + 0.3 * rain[:16000])):
        (tmp_path / "data/val" / kind).mkdir(parents=True)
        save_audio(tmp_path / f"data/val/{kind}/a.wav", x, 16000)
    splits = {"clean": {"train": ["clean.wav"]}, "noise": {"train": ["noise.wav"]}}
    (tmp_path / "data/splits.json").write_text(json.dumps(splits))
    args = ["--corpus", str(tmp_path), "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run")]
    args += ["--steps", "1", "--batch-size", "1", "--segment-seconds", "0.5", "--val-every", "1", "--val-clips", "1"]
    assert main([*args, "--init", "enhancer", "--lr", "1e-9"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["init"] == "enhancer"
    tuned = load_file(str(tmp_path / "run/best.safetensors"))
    shipped = models.load("enhancer").state_dict()
    assert max(float((tuned[k] - shipped[k]).abs().max()) for k in shipped) < 1e-6  # it started from them
    # the model card: data, command and the legs of training, carried on by --init OUT/last
    card = json.loads((tmp_path / "run/last.json").read_text())
    assert card["data"]["train_speech_files"] == 1 and card["data"]["mixing"]["snr_db"] == [-5.0, 30.0]
    assert card["command"].startswith("python -m recipes.enhancement.starter.train --corpus")
    legs = card["training"]["legs"]
    assert len(legs) == 1 and legs[0]["steps"] == 1 and legs[0]["audio_hours"] == round(0.5 / 3600, 6)
    assert legs[0]["loss"] == "enhancement_loss" and legs[0]["init"] == "enhancer"
    assert json.loads((tmp_path / "run/best.json").read_text())["training"] == card["training"]
    assert main([*args, "--out", str(tmp_path / "run3"), "--init", str(tmp_path / "run/last")]) == 0
    total = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert total["total_steps"] == 2 and total["total_audio_hours_seen"] == round(1.0 / 3600, 4)
    assert len(json.loads((tmp_path / "run3/last.json").read_text())["training"]["legs"]) == 2
    assert main([*args, "--out", str(tmp_path / "run2"), "--init", "no-such-model"]) == 2
    assert "no such model" in capsys.readouterr().err
    # --set with --init grows the weights by new parts; a field that reshapes them is refused in one line
    assert main([*args, "--out", str(tmp_path / "run4"), "--init", "enhancer", "--set", "channels=8"]) == 2
    assert "only fields that add parts" in capsys.readouterr().err
