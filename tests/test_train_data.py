"""Training data: mixing SNR and determinism, paired-folder layouts, splits, augmentation."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from tfsignal.data.activity import active_power
from tfsignal.data.augment import Augment
from tfsignal.data.folders import PairedFolderDataset, corpus_files
from tfsignal.data.speech import MixingDataset
from tfsignal.data.splits import file_split, speaker_id, speaker_split
from tfsignal.io import load_audio, save_audio

RATE = 16000


@pytest.fixture
def corpus(tmp_path, data_dir):
    """A tiny corpus in the shared layout: two speakers, one noise (each 4 s)."""
    for rel, src in [
        ("clean/librispeech/103-1240-0000.flac", "speech_libri.flac"),
        ("clean/ljspeech/LJ001-0001.flac", "speech_lj.flac"),
        ("noise/esc10/rain/1-21189-A.flac", "noise_rain.flac"),
    ]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        save_audio(tmp_path / rel, load_audio(data_dir / src)[0], RATE)
    return tmp_path


def test_corpus_files_and_mixing_snr_is_exact(corpus):
    clean, noise = corpus_files(corpus)
    assert [p.name for p in clean] == ["103-1240-0000.flac", "LJ001-0001.flac"] and len(noise) == 1
    dataset = MixingDataset(clean, noise, segment_seconds=1.5, epoch_size=8)
    for index in range(8):
        item = dataset.mixture(index)
        residual = (item["noisy"] - item["clean"]).astype(np.float64)
        measured = 10 * np.log10(active_power(item["clean"], RATE) / np.mean(residual**2))
        assert abs(measured - item["snr_db"]) < 0.5
        assert -5 <= item["snr_db"] <= 15
    fixed = dataset.mixture(0, snr_db=7.0)
    residual = (fixed["noisy"] - fixed["clean"]).astype(np.float64)
    assert abs(10 * np.log10(active_power(fixed["clean"], RATE) / np.mean(residual**2)) - 7.0) < 0.5


def test_active_power_ignores_pauses(data_dir):
    speech = load_audio(data_dir / "speech_libri.flac")[0]
    with_pause = np.concatenate([speech, np.zeros(3 * RATE, np.float32), speech])
    assert active_power(with_pause, RATE) == pytest.approx(active_power(speech, RATE), rel=0.05)


def test_mixing_shapes_determinism_and_workers(data_dir):
    clean = [data_dir / "speech_libri.flac", data_dir / "speech_lj.flac"]
    noise = [data_dir / "noise_rain.flac"]
    # 6 s segments from 4 s files: exercises speech padding and noise looping.
    dataset = MixingDataset(clean, noise, segment_seconds=6.0, epoch_size=4, augment=Augment(), seed=3)
    noisy, target = dataset[1]
    assert noisy.shape == target.shape == (6 * RATE,)
    assert noisy.dtype == target.dtype == torch.float32
    assert noisy.abs().max() <= 1 and torch.isfinite(noisy).all()
    again = MixingDataset(clean, noise, segment_seconds=6.0, epoch_size=4, augment=Augment(), seed=3)
    assert torch.equal(again[1][0], noisy) and torch.equal(again[1][1], target)
    assert not torch.equal(dataset[2][0], noisy)
    other_seed = MixingDataset(clean, noise, segment_seconds=6.0, epoch_size=4, augment=Augment(), seed=4)
    assert not torch.equal(other_seed[1][0], noisy)
    loader = DataLoader(dataset, batch_size=2, num_workers=2)
    batches = list(loader)
    assert len(batches) == 2 and batches[0][0].shape == (2, 6 * RATE)
    for index in range(4):
        assert torch.equal(batches[index // 2][0][index % 2], dataset[index][0])
    with pytest.raises(IndexError):
        dataset[4]


def test_reverb_target_keeps_direct_path_and_first_50_ms(data_dir):
    augment = Augment()
    impulse = np.zeros(RATE, np.float32)
    impulse[100] = 1.0
    reverberant, target = augment.reverb(impulse, np.random.default_rng(0), RATE)
    early_end = 100 + int(0.05 * RATE)
    # The target is the response's first 50 ms; the input is the same there and carries the tail after.
    np.testing.assert_allclose(target[: early_end + 1], reverberant[: early_end + 1], atol=1e-6)
    assert np.all(np.abs(target[early_end + 2 :]) < 1e-6)
    assert np.sum(reverberant[early_end + 2 :] ** 2) > 1e-3
    assert target[100] == pytest.approx(1.0, abs=1e-6) and np.all(np.abs(target[:100]) < 1e-6)

    speech = load_audio(data_dir / "speech_libri.flac")[0]
    reverberant, target = augment.reverb(speech, np.random.default_rng(1), RATE)
    assert np.sum(reverberant**2) > np.sum(target**2)
    # The target is closer to the dry speech than the reverberant input is.
    from tfsignal.metrics import si_sdr

    assert si_sdr(target, speech) > si_sdr(reverberant, speech) + 1


def _write_pairs(noisy_dir, clean_dir, names, clean_names, data_dir, seconds):
    noisy_dir.mkdir(parents=True)
    clean_dir.mkdir(parents=True)
    speech = load_audio(data_dir / "speech_lj.flac")[0][: int(seconds * RATE)]
    rain = load_audio(data_dir / "noise_rain.flac")[0][: len(speech)]
    for name, clean_name in zip(names, clean_names):
        save_audio(noisy_dir / name, speech + 0.1 * rain, RATE)
        save_audio(clean_dir / clean_name, speech, RATE)


def test_paired_folder_vb_and_dns_layouts(tmp_path, data_dir):
    vb = tmp_path / "vb"
    names = ["p232_001.wav", "p232_002.wav"]
    _write_pairs(vb / "noisy_trainset_28spk_wav", vb / "clean_trainset_28spk_wav", names, names, data_dir, 1.5)
    _write_pairs(vb / "noisy_testset_wav", vb / "clean_testset_wav", names[:1], names[:1], data_dir, 1.5)
    train = PairedFolderDataset(vb, segment_seconds=1.0, train=True)
    assert len(train) == 2
    noisy, clean = train[0]
    assert noisy.shape == clean.shape == (RATE,) and noisy.dtype == torch.float32
    assert not torch.equal(noisy, clean)
    test = PairedFolderDataset(vb, train=False)
    assert len(test) == 1 and test[0][0].shape == (int(1.5 * RATE),)
    padded = PairedFolderDataset(vb, segment_seconds=2.0)[1][1]
    assert padded.shape == (2 * RATE,) and torch.all(padded[int(1.5 * RATE) :] == 0)

    dns = tmp_path / "dns"
    noisy_names = ["book_00001_chp_0001_reader_01_snr5_fileid_7.wav", "door_snr0_fileid_12.wav"]
    _write_pairs(dns / "noisy", dns / "clean", noisy_names, ["clean_fileid_7.wav", "clean_fileid_12.wav"], data_dir, 1)
    dataset = PairedFolderDataset(dns, train=False)
    assert [(n.name, c.name) for n, c in dataset.pairs] == [
        ("book_00001_chp_0001_reader_01_snr5_fileid_7.wav", "clean_fileid_7.wav"),
        ("door_snr0_fileid_12.wav", "clean_fileid_12.wav"),
    ]
    assert torch.equal(dataset[0][1], torch.from_numpy(load_audio(dns / "clean" / "clean_fileid_7.wav")[0]))


def test_paired_folder_errors_name_the_folder(tmp_path, data_dir):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty: not a recognised layout") as err:
        PairedFolderDataset(tmp_path / "empty")
    assert "\n" not in str(err.value)
    _write_pairs(tmp_path / "bad" / "noisy", tmp_path / "bad" / "clean", ["a.wav"], ["b.wav"], data_dir, 0.5)
    with pytest.raises(ValueError, match="noisy: no noisy .* has a clean counterpart"):
        PairedFolderDataset(tmp_path / "bad")


def test_speaker_split_keeps_speakers_apart():
    files = [f"clean/librispeech/{spk}-{ch}-{u:04d}.flac" for spk in range(100, 130) for ch in (5, 6) for u in (0, 1)]
    files += [f"clean/vctk/p{spk}/p{spk}_{u:03d}.flac" for spk in (225, 226, 227) for u in range(5)]
    files += [f"clean/ljspeech/LJ001-{u:04d}.flac" for u in range(10)]
    assert speaker_id(files[0]) == "100" and speaker_id(files[-1]) == "ljspeech"
    parts = speaker_split(files, seed=1)
    speakers = [{speaker_id(f) for f in part} for part in parts]
    assert all(speakers) and not (speakers[0] & speakers[1] or speakers[0] & speakers[2] or speakers[1] & speakers[2])
    assert sorted(f for part in parts for f in part) == sorted(files)
    assert speaker_split(list(reversed(files)), seed=1) == parts
    assert speaker_split(files, seed=2) != parts


def test_file_split_stratifies_noise_families():
    files = [f"noise/esc10/rain/1-{r}-{t}.flac" for r in range(100, 110) for t in "AB"]
    files += [f"noise/bg/{name}.flac" for name in ("tap", "bike", "dishes", "cat")]
    files += ["noise/rare/one.flac", "noise/rare/two.flac"]
    train, val, test = file_split(files, seed=0)
    for family in ("noise/esc10/rain/", "noise/bg/"):
        assert any(f.startswith(family) for f in train) and any(f.startswith(family) for f in test)
    assert {"noise/rare/one.flac", "noise/rare/two.flac"} <= set(train)
    recording = {
        part: {f.rsplit("-", 1)[0] for f in files if "esc10" in f} for part, files in zip("tvs", (train, val, test))
    }
    assert not (recording["t"] & recording["s"] or recording["t"] & recording["v"])  # takes stay together
    assert file_split(files, seed=0) == (train, val, test)
