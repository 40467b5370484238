"""Separation training pieces (PIT SI-SNR loss, speaker mixing, folder datasets) and the recipes:
starter prepare -> train -> evaluate, Libri2Mix and EchoSet layouts, SDR and the oracle mask."""

import json

import numpy as np
import pytest
import torch
from scipy.signal import lfilter

from recipes.separation.echoset import evaluate as echoset_evaluate
from recipes.separation.echoset import train as echoset_train
from recipes.separation.libri2mix import evaluate as libri2mix_evaluate
from recipes.separation.libri2mix import train as libri2mix_train
from recipes.separation.starter import evaluate as sep_eval
from recipes.separation.starter import prepare as sep_prepare
from recipes.separation.starter import train as sep_train
from tfsignal import models, weights
from tfsignal.data.activity import active_power
from tfsignal.data.folders import (
    ECHOSET_SOURCES,
    SeparationFolderDataset,
    echoset_items,
    libri2mix_items,
    separation_files,
)
from tfsignal.data.speech import SpeakerMixingDataset
from tfsignal.data.splits import speaker_id
from tfsignal.evaluation.separation import oracle_irm, score
from tfsignal.frontends import STFT
from tfsignal.io import InputFileError, load_audio, save_audio
from tfsignal.metrics import overlap_ratio, sdr, si_sdr
from tfsignal.train import pit_si_snr_loss, pit_snr_loss
from tfsignal.train.losses import thresholded_snr

RATE = 16000


@pytest.fixture
def corpus(tmp_path, data_dir):
    """20 one-second "speakers" cut from the speech fixtures (LibriSpeech-style names) and one noise."""
    speech = np.concatenate([load_audio(data_dir / f)[0] for f in ("speech_libri.flac", "speech_lj.flac")])
    for k in range(20):
        path = tmp_path / "corpus" / "clean" / "libri" / f"{100 + k}-1-0.flac"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_audio(path, speech[k * 6000 : k * 6000 + RATE], RATE)
    noise = tmp_path / "corpus" / "noise" / "rain" / "1-21189-A.flac"
    noise.parent.mkdir(parents=True)
    save_audio(noise, load_audio(data_dir / "noise_rain.flac")[0], RATE)
    return tmp_path / "corpus"


def _files(corpus):
    return sorted((corpus / "clean").rglob("*.flac")), sorted((corpus / "noise").rglob("*.flac"))


# ------------------------------------------------------------------------------------ loss, data


class Fixed(torch.nn.Module):
    """A "separator" returning learnable estimates, whatever the mixture."""

    def __init__(self, estimates):
        super().__init__()
        self.estimates = torch.nn.Parameter(estimates.clone())

    def forward(self, mixture):
        return self.estimates


def test_pit_si_snr_loss_ignores_the_order_and_has_a_gradient():
    torch.manual_seed(0)
    references = torch.randn(3, 2, 800)
    estimates = references + 0.1 * torch.randn(3, 2, 800)
    model = Fixed(estimates.flip(1))  # every estimate in the other order
    terms = pit_si_snr_loss(model, torch.zeros(3, 800), references)
    expected = si_sdr(estimates, references).mean()
    assert torch.allclose(terms["si_snr"], expected, atol=1e-4)
    assert torch.allclose(terms["total"], -expected)
    terms["total"].backward()
    assert model.estimates.grad is not None and torch.isfinite(model.estimates.grad).all()


def test_thresholded_snr_is_capped_by_the_mixture_and_finite_for_a_silent_reference():
    torch.manual_seed(0)
    voice = torch.randn(800)
    silent = torch.zeros(800)
    # a lone voice recovered exactly: the whole mixture, so the 30 dB cap exactly
    assert float(thresholded_snr(voice, voice, voice)) == pytest.approx(30.0, abs=1e-3)
    # a source 6 dB under the mixture, recovered exactly: the cap less its level
    other = 0.5 * torch.randn(800)
    mix = voice + other
    ceiling = 30 + 10 * torch.log10(other.pow(2).sum() / mix.pow(2).sum())
    assert float(thresholded_snr(other, other, mix)) == pytest.approx(float(ceiling), abs=1e-3)
    # silent reference: 0 dB for a silent estimate, finite and lower the more the track holds
    scores = [float(thresholded_snr(g * voice, silent, voice)) for g in (0.0, 0.01, 0.1, 1.0)]
    assert scores[0] == pytest.approx(0.0, abs=1e-4) and all(np.isfinite(scores))
    assert scores == sorted(scores, reverse=True) and scores[-1] < -25


def test_pit_snr_loss_picks_the_order_and_trains_through_a_silent_reference():
    torch.manual_seed(0)
    voice = torch.randn(3, 800)
    references = torch.stack([voice, torch.zeros(3, 800)], 1)  # (B, 2, time): one voice alone
    estimates = references + 0.01 * torch.randn(3, 2, 800)
    model = Fixed(estimates.flip(1))  # every estimate in the other order
    terms = pit_snr_loss(model, voice, references)
    in_order = thresholded_snr(estimates, references, voice[:, None]).mean()
    assert torch.allclose(terms["snr"], in_order, atol=1e-4) and torch.allclose(terms["total"], -in_order)
    terms["total"].backward()
    assert torch.isfinite(terms["total"]) and torch.isfinite(model.estimates.grad).all()
    assert model.estimates.grad.abs().sum() > 0


def test_speaker_mixing_sums_places_speakers_and_sets_levels(corpus):
    speech, noise = _files(corpus)
    dataset = SpeakerMixingDataset(speech, noise, segment_seconds=1.0, epoch_size=6, seed=1)
    for index in range(6):
        item = dataset.mixture(index)
        sources = item["sources"]
        assert sources.shape == (2, RATE) and item["noise_file"] is None
        assert np.allclose(item["mixture"], sources.sum(0), atol=1e-6)
        assert len({speaker_id(p) for p in item["speech_files"]}) == 2
        level = 10 * np.log10(active_power(sources[1], RATE) / active_power(sources[0], RATE))
        assert abs(level - item["levels_db"][1]) < 0.1 and abs(level) <= 5.01
        assert np.abs(item["mixture"]).max() <= 0.99 + 1e-6
    turns = dataset.mixture(0, overlap=0.0)["sources"]  # speakers take turns: never both at once
    assert not np.any((turns[0] != 0) & (turns[1] != 0))
    assert np.array_equal(dataset[3][1].numpy(), dataset.mixture(3)["sources"])  # a function of the index


def test_speaker_mixing_lone_voices(corpus):
    speech, noise = _files(corpus)
    plain = SpeakerMixingDataset(speech, noise, segment_seconds=1.0, epoch_size=40, seed=3)
    dataset = SpeakerMixingDataset(speech, noise, segment_seconds=1.0, epoch_size=40, seed=3, lone_prob=0.5)
    lone = 0
    for index in range(40):
        item, same = dataset.mixture(index), plain.mixture(index)
        assert item["speech_files"] == same["speech_files"]  # the option leaves the other draws alone
        energy = (item["sources"].astype(np.float64) ** 2).sum(1)
        assert np.array_equal(energy > 0, np.array(item["active"]))
        if sum(item["active"]) == 1:
            lone += 1
            assert np.allclose(item["mixture"], item["sources"].sum(0), atol=1e-6)
        else:
            assert np.array_equal(item["sources"], same["sources"])
    assert 10 <= lone <= 30  # about half
    with pytest.raises(ValueError, match="lone_prob"):
        SpeakerMixingDataset(speech, noise, lone_prob=1.5)


def test_speaker_mixing_noise_snr_and_reverb(corpus):
    speech, noise = _files(corpus)
    dataset = SpeakerMixingDataset(speech, noise, segment_seconds=1.0, noise_prob=1.0, reverb_prob=1.0, epoch_size=4)
    for index in range(4):
        item = dataset.mixture(index)
        residual = (item["mixture"] - item["sources"].sum(0)).astype(np.float64)
        measured = 10 * np.log10(active_power(item["sources"].sum(0), RATE) / np.mean(residual**2))
        assert item["reverb"] and abs(measured - item["snr_db"]) < 0.5
    with pytest.raises(ValueError, match="speakers"):
        SpeakerMixingDataset(speech[:1], noise)
    assert SpeakerMixingDataset(speech, [], segment_seconds=0.5).mixture(0)["noise_file"] is None
    with pytest.raises(ValueError, match="noise files"):
        SpeakerMixingDataset(speech, [], noise_prob=0.5)


def _write_item(folder_of, name, signals):
    for folder, signal in zip(folder_of, signals):
        folder.mkdir(parents=True, exist_ok=True)
        save_audio(folder / name, signal, RATE)


def test_separation_folder_dataset_crops_and_loads_whole(tmp_path):
    rng = np.random.default_rng(0)
    folders = [tmp_path / "mix", tmp_path / "s1", tmp_path / "s2"]
    for i, length in enumerate((4000, 12000)):
        s = 0.1 * rng.standard_normal((2, length)).astype(np.float32)
        _write_item(folders, f"{i}.wav", [s.sum(0), *s])
    save_audio(tmp_path / "mix" / "orphan.wav", np.zeros(100, np.float32), RATE)  # no sources: left out
    with pytest.warns(UserWarning):
        items = separation_files(folders[0], folders[1:])
    assert [m.name for m, _ in items] == ["0.wav", "1.wav"] and [s.parent.name for s in items[0][1]] == ["s1", "s2"]
    crops = SeparationFolderDataset(items, segment_seconds=0.5)
    mixture, sources = crops[0]
    assert mixture.shape == (8000,) and sources.shape == (2, 8000)  # zero-padded to the segment
    assert torch.allclose(crops[1][0], crops[1][1].sum(0), atol=1e-3)
    whole = SeparationFolderDataset(items, segment_seconds=None)
    assert whole.load(1)[1].shape == (2, 12000) and whole[0][0].shape == (4000,)


# ------------------------------------------------------------------------------- evaluation maths


def test_sdr_allows_a_short_filter_and_oracle_masks_sum_to_the_mixture():
    rng = np.random.default_rng(0)
    reference = rng.standard_normal(RATE)
    noise = rng.standard_normal(RATE) * np.sqrt(np.mean(reference**2) / 10)  # 10 dB below
    filtered = lfilter([1.0, -0.6, 0.3], [1.0], reference)
    estimate = filtered + noise * np.sqrt(np.mean(filtered**2) / np.mean(reference**2))
    assert sdr(estimate, reference) == pytest.approx(10.0, abs=0.3)
    assert sdr(estimate, reference) > float(si_sdr(estimate, reference)) + 3  # SI-SNR punishes the filter
    assert sdr(reference, reference) > 60
    t = np.arange(RATE) / RATE
    sources = np.stack([np.sin(2 * np.pi * 440 * t), 0.5 * np.sin(2 * np.pi * 2500 * t)]).astype(np.float32)
    oracle = oracle_irm(sources.sum(0), sources, STFT(640, 160))
    assert np.allclose(oracle.sum(0), sources.sum(0), atol=1e-4)
    scores = score(oracle[::-1].copy(), sources.sum(0), sources)  # order does not matter (PIT)
    assert scores["si_snri"] > 20 and scores["sdri"] > 20  # tones far apart: the masks separate them


def test_overlap_ratio_is_measured_on_the_references():
    x = np.zeros((2, RATE), np.float32)
    x[0, :8000], x[1, 8000:] = 1.0, 1.0
    assert overlap_ratio(x, RATE) == 0.0
    x[1, 4000:] = 1.0  # overlap 4000 of 16000 active samples
    assert overlap_ratio(x, RATE) == pytest.approx(0.25, abs=0.02)


# ------------------------------------------------------------------------------------ the starter


def test_starter_prepare_train_resume_evaluate(corpus, tmp_path, capsys):
    data, out = tmp_path / "data", tmp_path / "run"
    args = ["--corpus", str(corpus), "--out", str(data), "--n-test", "3", "--n-val", "2", "--clip-seconds", "0.5"]
    assert sep_prepare.main(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["written"] == ["splits", "test", "val"] and summary["test_mixtures"] == 3
    splits = json.loads((data / "splits.json").read_text())
    speakers = {part: {speaker_id(p) for p in files} for part, files in splits["clean"].items()}
    assert not speakers["test"] & (speakers["train"] | speakers["val"])
    assert sep_prepare.main(args) == 0  # complete: nothing rewritten
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["written"] == []

    common = ["--corpus", str(corpus), "--data", str(data), "--lone-prob", "0.5"]
    common += ["--batch-size", "2", "--segment-seconds", "0.25", "--val-every", "2", "--val-clips", "1"]
    train = [*common, "--out", str(out)]  # tiger-cpu, the default
    assert sep_train.main([*train, "--steps", "2"]) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["steps"] == 2 and np.isfinite(first["last_val"]["si_snri"])
    assert 0.5 <= first["last_val"]["lone_share"] <= 1
    assert sep_train.main([*train, "--steps", "3"]) == 0  # resumes from step 2
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["steps"] == 3
    best = models.load(out / "best.json")
    assert best.n_sources == 2 and models.name_of(best) == "tiger-cpu"
    for card in (weights.config(out / "best.json"), weights.config(out / "last.json")):
        assert card["command"].startswith("python -m recipes.separation.starter.train") and "corpus" in card["data"]
        assert card["data"]["mixing"]["lone_prob"] == 0.5
        legs, total = card["training"]["legs"], card["training"]["total"]
        assert len(legs) == 1 and legs[0]["steps"] == total["steps"] == 3 and legs[0]["loss"] == "pit_snr_loss"
        assert legs[0]["audio_hours"] == round(3 * 2 * 0.25 / 3600, 6) and total["minutes"] > 0

    # the next leg starts from the last weights and carries the card on
    last = models.load(out / "last.json")
    out2 = tmp_path / "run2"
    assert sep_train.main([*common, "--out", str(out2), "--init", str(out / "last.json"), "--steps", "0"]) == 0
    capsys.readouterr()
    resumed = models.load(out2 / "last.json")
    for name, tensor in last.state_dict().items():
        assert torch.equal(resumed.state_dict()[name], tensor)  # no step taken: the --init weights
    leg3 = ["--out", str(tmp_path / "run3"), "--init", str(out2 / "last.json"), "--steps", "1"]
    assert sep_train.main([*common, *leg3]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["init"] == str(out2 / "last.json") and summary["total_steps"] == 4
    card = weights.config(tmp_path / "run3" / "last.json")["training"]
    assert [leg["steps"] for leg in card["legs"]] == [3, 0, 1] and card["total"]["steps"] == 4
    assert card["legs"][0] == weights.config(out / "last.json")["training"]["legs"][0]
    # with --init, --set may only add parts to the trained weights; reshaping them is refused in one line
    assert sep_train.main([*common, "--out", str(out2), "--init", str(out / "last.json"), "--set", "channels=8"]) == 2
    err = capsys.readouterr().err
    assert "only fields that add parts" in err and len(err.strip().splitlines()) == 1
    # a time budget alone, and a fresh model's configuration changed with --set
    timed = ["--out", str(tmp_path / "timed"), "--minutes", "0.01", "--set", "channels=16", "--set", "n_repeats=1"]
    assert sep_train.main([*common, *timed]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["steps"] >= 1 and summary["total_minutes"] >= 0.01
    card = weights.config(tmp_path / "timed" / "last.json")
    assert card["config"]["channels"] == 16 and card["config"]["n_repeats"] == 1 and card["config"]["n_fft"] == 512
    flags = card["training"]["legs"][0]["flags"]
    assert flags["minutes"] == 0.01 and flags["steps"] is None
    assert sep_train.main([*common, "--out", str(tmp_path / "bad"), "--set", "channels"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err

    assert sep_eval.main(["--data", str(data), "--model", str(out / "best.json")]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["n"] == 3 and set(result["results"]) == {"mixture", "oracle", "model"}
    assert result["results"]["mixture"]["si_snri"] == 0.0 and result["results"]["oracle"]["si_snri"] > 3
    # one voice alone: the unprocessed mixture splits it evenly, ideal masks keep it on one track
    assert result["results"]["mixture"]["lone_share"] == 0.5 and result["results"]["oracle"]["lone_share"] > 0.99
    assert 0.5 <= result["results"]["model"]["lone_share"] <= 1
    assert sum(b["n"] for b in result["by_overlap"].values()) == 3
    assert sep_eval.main(["--data", str(data), "--split", "val", "--methods", "mixture"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["n"] == len(list((data / "val" / "mix").iterdir())) and set(result["results"]) == {"mixture"}


def test_starter_errors_are_one_line(tmp_path, capsys):
    assert sep_prepare.main(["--corpus", str(tmp_path / "nowhere"), "--out", str(tmp_path / "data")]) == 2
    assert sep_train.main(["--corpus", str(tmp_path), "--data", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert sep_eval.main(["--data", str(tmp_path)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 3


# ----------------------------------------------------------------------------- Libri2Mix, EchoSet


def _signals(rng, length):
    s = 0.1 * rng.standard_normal((2, length)).astype(np.float32)
    return [s.sum(0), *s]


@pytest.fixture
def libri2mix_root(tmp_path):
    rng = np.random.default_rng(1)
    base = tmp_path / "Libri2Mix" / "wav16k" / "min"
    for split in ("train-100", "dev", "test"):
        for i in range(3):
            _write_item([base / split / d for d in ("mix_clean", "s1", "s2")], f"{i}_{i + 10}.wav", _signals(rng, 6000))
    (base / "metadata").mkdir()
    rows = ["mixture_ID,mixture_path,source_1_path,source_2_path,length"]
    rows += [f"{i}_{i + 10},/gen/{i}.wav,/gen/s1.wav,/gen/s2.wav,6000" for i in (2, 0)]  # CSV order, a subset
    (base / "metadata" / "mixture_test_mix_clean.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "Libri2Mix"


def test_libri2mix_layout_metadata_and_folder_listing(libri2mix_root):
    listed = libri2mix_items(libri2mix_root, "test")
    assert [m.stem for m, _ in listed] == ["2_12", "0_10"]  # from the metadata CSV
    assert [s.parent.name for s in listed[0][1]] == ["s1", "s2"]
    assert len(libri2mix_items(libri2mix_root, "dev")) == 3  # no CSV: the folders
    assert len(libri2mix_items(libri2mix_root / "wav16k" / "min", "dev")) == 3  # root at wav16k/min
    (libri2mix_root / "wav16k/min/test/s2/0_10.wav").unlink()
    with pytest.raises(InputFileError, match="missing"):
        libri2mix_items(libri2mix_root, "test")


def test_libri2mix_train_and_evaluate(libri2mix_root, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--root", str(libri2mix_root), "--out", str(out), "--model", "tiger-tiny", "--steps", "1"]
    assert libri2mix_train.main([*args, "--batch-size", "2", "--segment-seconds", "0.25", "--val-clips", "1"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["steps"] == 1
    assert weights.config(out / "best.json")["data"]["train_mixtures"] == 3
    assert libri2mix_evaluate.main(["--root", str(libri2mix_root), "--methods", "mixture", "oracle"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["n"] == 2


@pytest.fixture
def echoset_root(tmp_path):
    rng = np.random.default_rng(2)
    for split in ("train", "val", "test"):
        for i in range(2):
            folder = tmp_path / "EchoSet" / split / f"{i}_{i + 7}"
            folder.mkdir(parents=True)
            for name, signal in zip(("mix.wav", *ECHOSET_SOURCES), _signals(rng, 5000)):
                save_audio(folder / name, signal, RATE)
    (tmp_path / "EchoSet" / "test" / "incomplete").mkdir()
    save_audio(tmp_path / "EchoSet" / "test" / "incomplete" / "mix.wav", np.zeros(10, np.float32), RATE)
    return tmp_path / "EchoSet"


def test_echoset_layout_and_evaluate(echoset_root, capsys):
    items = echoset_items(echoset_root, "test")
    assert [m.parent.name for m, _ in items] == ["0_7", "1_8"]  # the folder without sources is left out
    assert [s.name for s in items[0][1]] == ["spk1_reverb.wav", "spk2_reverb.wav"]
    assert echoset_evaluate.main(["--root", str(echoset_root), "--methods", "mixture"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["n"] == 2


@pytest.mark.parametrize("module", [libri2mix_train, libri2mix_evaluate, echoset_train, echoset_evaluate])
def test_bad_root_is_one_line_and_exit_code_2(module, tmp_path, capsys):
    extra = ["--out", str(tmp_path / "run")] if module in (libri2mix_train, echoset_train) else []
    assert module.main(["--root", str(tmp_path / "nowhere"), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "nowhere" in err[0]


def test_turns_arranges_the_speakers_and_runs_on_a_corpus_layout(tmp_path, data_dir, capsys):
    from recipes.separation.starter import turns

    a, b = np.ones(16000, np.float32), 2 * np.ones(16000, np.float32)
    rec = turns.recordings(a, b)
    abab, overlap = rec["A, B, A, B (4 s turns)"], rec["B starts 1 s before A stops"]
    assert abab.shape == (2, 64000) and not np.any(abab[0] * abab[1])  # never at once
    assert overlap.shape == (2, 28000) and np.count_nonzero(overlap[0] * overlap[1]) == 4000  # a quarter
    # the whole command on copies of two fixture recordings, with an untrained small TIGER
    for name, src in zip(turns.SPEAKERS, ("speech_libri.flac", "speech_lj.flac")):
        (tmp_path / "clean" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "clean" / name).write_bytes((data_dir / src).read_bytes())
    models.save(models.create("tiger-tiny", channels=8, msa_channels=16, msa_scales=2, n_repeats=1), tmp_path / "m")
    assert turns.main(["--corpus", str(tmp_path), "--model", str(tmp_path / "m.json")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 7 and out[2].startswith("| A, B, A, B") and "energy share per track" in out[-1]
    assert turns.main(["--corpus", str(tmp_path / "nowhere"), "--model", str(tmp_path / "m.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "nowhere" in err[0]
    models.save(models.create("mambattention-tiny"), tmp_path / "enhancer")
    assert turns.main(["--corpus", str(tmp_path), "--model", str(tmp_path / "enhancer.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a separation model" in err[0]
