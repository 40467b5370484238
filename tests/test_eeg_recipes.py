"""The Sleep-EDF, TUEV and Cam-CAN recipes on tiny synthetic copies of each dataset's layout.

The fixtures are written in tmp_path the way the real files are: EDF through mne.export (edfio),
hypnograms as annotation-only EDF+ files (edfio), FIF through mne, arrays through numpy. A
stand-in tokenizer (dominant frequency of each 1 s segment) replaces the shipped ones, so the
whole path from files to metrics runs without them.
"""

import json

import edfio
import mne
import numpy as np
import pytest

from recipes.eeg.sleep_edf import train as sleep_edf
from recipes.eeg.tuev import train as tuev
from recipes.meg.camcan import prepare as camcan
from tfsignal.data.splits import split_subjects
from tfsignal.evaluation import tokens as token_scoring
from tfsignal.evaluation.tokens import evaluate_tokenizer
from tfsignal.io import InputFileError


class DominantFrequencyTokenizer:
    """Stand-in for TFMTokenizer: one token per channel and 1 s segment, the segment's peak frequency / 2 Hz."""

    n_codes = 16

    def __init__(self):
        self.calls, self.rates = 0, set()

    def transform(self, X, sfreq):
        self.calls += 1
        self.rates.add(sfreq)  # the rate the recipe passes with each call
        X = np.asarray(X)
        segment = int(sfreq)
        n_segments = X.shape[-1] // segment
        segments = X[..., : n_segments * segment].reshape(*X.shape[:-1], n_segments, segment)
        peak_hz = np.abs(np.fft.rfft(segments, axis=-1))[..., 1:].argmax(axis=-1) + 1  # 1 Hz bins
        return np.minimum(peak_hz // 2, self.n_codes - 1)  # (n_epochs, n_channels, n_segments)


class TokenCounts:
    """Stand-in for TokenHistogram: per channel, how often each token occurs."""

    def __init__(self, n_codes):
        self.n_codes = n_codes

    def fit_transform(self, tokens):
        return self.transform(tokens)

    def transform(self, tokens):
        one_hot = np.asarray(tokens)[..., None] == np.arange(self.n_codes)  # (n, C, n_tokens, n_codes)
        return one_hot.sum(axis=2).reshape(len(tokens), -1)


class QuantileTokenizer:
    """Stand-in for SampleTokenizer: one token per sample, the standardised value's bin among n_codes."""

    n_codes = 8

    def transform(self, x, sfreq):
        self.sfreq = sfreq
        return np.digitize(x, np.linspace(-2, 2, self.n_codes - 1))  # (n_channels, n_samples)


@pytest.fixture
def stand_ins(monkeypatch):
    """Route the recipes' tokenizer and histogram loaders to the stand-ins above."""
    made = []

    def load(name, kind="tfm"):
        made.append(DominantFrequencyTokenizer())
        return made[-1]

    monkeypatch.setattr(sleep_edf, "load_tokenizer", load)
    monkeypatch.setattr(tuev, "load_tokenizer", load)
    monkeypatch.setattr(token_scoring, "token_histogram", TokenCounts)
    monkeypatch.setattr(camcan, "load_tokenizer", lambda name, kind="sample": QuantileTokenizer())
    return made


def write_edf(path, data_uv, ch_names, sfreq):
    raw = mne.io.RawArray(np.asarray(data_uv) * 1e-6, mne.create_info(list(ch_names), sfreq, "eeg"), verbose="error")
    mne.export.export_raw(path, raw, fmt="edf", overwrite=True, verbose="error")


def tone(hz, seconds, sfreq, amplitude=40.0, rng=None):
    t = np.arange(int(seconds * sfreq)) / sfreq
    noise = 0 if rng is None else 2.0 * rng.standard_normal(t.size)
    return amplitude * np.sin(2 * np.pi * hz * t) + noise


# ---------------------------------------------------------------- Sleep-EDF

# (annotation, number of 30 s epochs): W, N1, N2, 3, 4, movement, REM, W, then unscored time past the end.
NIGHT = [
    ("Sleep stage W", 10),
    ("Sleep stage 1", 2),
    ("Sleep stage 2", 2),
    ("Sleep stage 3", 2),
    ("Sleep stage 4", 2),
    ("Movement time", 1),
    ("Sleep stage R", 2),
    ("Sleep stage W", 10),
    ("Sleep stage ?", 6),
]
STAGE_HZ = {0: 2, 1: 6, 2: 10, 3: 14, 4: 18}  # W, N1, N2, N3, REM: what the stand-in tokenizer tells apart


def write_night(folder, record, hypnogram_letters, night=NIGHT, rng=None):
    """SC4ssNE0-PSG.edf (Fpz-Cz, Pz-Oz, EOG at 100 Hz) and its annotation-only hypnogram; returns the EEG in µV.

    With ``rng``, every epoch holds a tone at its stage's frequency; otherwise the EEG is a ramp
    (sample index, then its negative) so that each epoch's position can be read off its values.
    """
    scored = sum(n for description, n in night if description != "Sleep stage ?")
    n_samples = scored * 3000
    if rng is None:
        eeg = np.stack([np.arange(n_samples) / 100.0, -np.arange(n_samples) / 100.0])
    else:
        epochs = []
        for description, n in night[:-1]:
            stage = sleep_edf.STAGE_OF_ANNOTATION.get(description, 0)
            epochs += [tone(STAGE_HZ[stage], 30 * n, 100, rng=rng)]
        eeg = np.stack([np.concatenate(epochs)] * 2)
    eog = np.zeros((1, n_samples))
    write_edf(folder / f"{record}E0-PSG.edf", np.vstack([eeg, eog]), [*sleep_edf.CHANNELS, "EOG horizontal"], 100)
    annotations, onset = [], 0
    for description, n in night:
        annotations.append(edfio.EdfAnnotation(onset, 30 * n, description))
        onset += 30 * n
    edfio.Edf([], annotations=annotations).write(folder / f"{record}{hypnogram_letters}-Hypnogram.edf")
    return eeg


def test_sleep_find_recordings_pairs_nights_and_names_subjects(tmp_path):
    (tmp_path / "sleep-cassette").mkdir()
    for record, letters in (("SC4001", "EC"), ("SC4002", "EC"), ("SC4011", "EH")):
        write_night(tmp_path / "sleep-cassette", record, letters, night=NIGHT[:2])
    recordings = sleep_edf.find_recordings(tmp_path)
    assert [r.psg.name for r in recordings] == ["SC4001E0-PSG.edf", "SC4002E0-PSG.edf", "SC4011E0-PSG.edf"]
    assert [r.hypnogram.name for r in recordings] == [
        "SC4001EC-Hypnogram.edf",
        "SC4002EC-Hypnogram.edf",
        "SC4011EH-Hypnogram.edf",
    ]
    assert [r.subject for r in recordings] == ["SC400", "SC400", "SC401"]  # two nights of subject 00
    with pytest.raises(InputFileError, match="no Sleep-EDF recordings found: expected ST"):
        sleep_edf.find_recordings(tmp_path, study="telemetry")
    (tmp_path / "sleep-cassette" / "SC4002E0-PSG.edf").write_bytes(b"not an EDF file")
    with pytest.raises(InputFileError, match="SC4002E0-PSG.edf: not a readable EDF file"):
        sleep_edf.load_recording(recordings[1].psg, recordings[1].hypnogram)
    (tmp_path / "sleep-cassette" / "SC4011EH-Hypnogram.edf").unlink()
    with pytest.raises(InputFileError, match=r"SC4011E0-PSG.edf: no hypnogram beside it \(expected SC4011"):
        sleep_edf.find_recordings(tmp_path)


def test_sleep_epochs_merge_stages_3_and_4_drop_unscored_and_trim_wake(tmp_path):
    eeg = write_night(tmp_path, "SC4001", "EC")
    psg, hypnogram = tmp_path / "SC4001E0-PSG.edf", tmp_path / "SC4001EC-Hypnogram.edf"
    X, stages = sleep_edf.load_recording(psg, hypnogram, wake_minutes=2, normalize=False)
    # 4 of the 10 wake epochs on each side (2 min); 3 and 4 both N3; movement time and "?" gone.
    assert stages.tolist() == [0] * 4 + [1, 1, 2, 2, 3, 3, 3, 3] + [4, 4] + [0] * 4
    assert X.shape == (18, 2, 3000) and X.dtype == np.float32
    epoch_index = [6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 19, 20, 21, 22, 23, 24]  # 18 is movement time
    expected = np.stack([eeg[:, i * 3000 : (i + 1) * 3000] for i in epoch_index])
    assert np.abs(X - expected).max() < 0.05  # µV, after 16-bit EDF storage

    X, stages = sleep_edf.load_recording(psg, hypnogram)  # 30 min of wake: all 20 wake epochs stay
    assert (stages == 0).sum() == 20 and len(stages) == 30
    np.testing.assert_allclose(np.quantile(np.abs(X), 0.95, axis=-1), 1.0, rtol=1e-4)


def test_trim_wake_keeps_thirty_minutes_either_side_of_sleep():
    stages = np.array([0] * 100 + [2] * 10 + [0] * 100)  # 50 min of wake, 5 of sleep, 50 of wake
    starts = 30.0 * np.arange(len(stages))
    kept = stages[sleep_edf.trim_wake(starts, stages)]
    assert kept.tolist() == [0] * 60 + [2] * 10 + [0] * 60
    assert not sleep_edf.trim_wake(starts, np.zeros_like(stages)).any()


def test_split_subjects_holds_out_whole_subjects():
    subjects = np.repeat([f"SC4{i:02d}" for i in range(10)], 3)
    train, test = split_subjects(subjects, 0.2, seed=1)
    assert len(test) == 2 and not set(train) & set(test) and set(train) | set(test) == set(subjects)
    assert split_subjects(subjects, 0.2, seed=1) == (train, test)
    assert split_subjects(subjects, 0.2, seed=2) != (train, test)
    with pytest.raises(ValueError, match="at least 2 subjects"):
        split_subjects(["SC400"] * 5, 0.2)


def test_evaluate_separates_planted_stages_on_held_out_subjects():
    rng = np.random.default_rng(0)
    stages = np.tile(np.repeat(np.arange(5), 6), 6)  # 6 subjects x 5 stages x 6 epochs
    subjects = np.repeat([f"SC4{i:02d}" for i in range(6)], 30)
    X = np.stack([np.stack([tone(STAGE_HZ[s], 30, 100, rng=rng)] * 2) for s in stages]).astype(np.float32)
    train_ids, test_ids = split_subjects(subjects, 1 / 3)
    train, test = np.isin(subjects, train_ids), np.isin(subjects, test_ids)
    tokenizer = DominantFrequencyTokenizer()
    metrics = evaluate_tokenizer(
        X[train], stages[train], X[test], stages[test], tokenizer, 100, sleep_edf.STAGES, histogram=TokenCounts(16)
    )
    assert tokenizer.rates == {100} and tokenizer.calls == 2
    assert metrics["balanced_accuracy"] > 0.9 and metrics["cohen_kappa"] > 0.9  # chance: 0.2 and 0
    assert metrics["test_counts"] == {"W": 12, "N1": 12, "N2": 12, "N3": 12, "REM": 12}
    assert sum(metrics["train_counts"].values()) == 120 and metrics["n_codes"] == 16


def test_evaluate_with_the_real_token_histogram():
    pytest.importorskip("tfsignal.tokenizers")
    rng = np.random.default_rng(1)
    y = np.repeat([0, 4], 20)
    X = np.stack([np.stack([tone(STAGE_HZ[s], 30, 100, rng=rng)] * 2) for s in y]).astype(np.float32)
    metrics = evaluate_tokenizer(X[::2], y[::2], X[1::2], y[1::2], DominantFrequencyTokenizer(), 100, sleep_edf.STAGES)
    assert metrics["balanced_accuracy"] > 0.9


def test_sleep_main_prints_metrics_and_reuses_its_tokens(tmp_path, stand_ins, capsys):
    rng = np.random.default_rng(2)
    night = [("Sleep stage W", 4), *NIGHT[1:7], ("Sleep stage W", 4), ("Sleep stage ?", 2)]
    for i in range(4):
        write_night(tmp_path, f"SC40{i}1", "EC", night, rng)
    args = ["--root", str(tmp_path), "--out", str(tmp_path / "run"), "--test-fraction", "0.25"]
    assert sleep_edf.main(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["dataset"] == "sleep-edf" and summary["train_subjects"] == 3 and summary["test_subjects"] == 1
    assert summary["test_counts"] == {"W": 8, "N1": 2, "N2": 2, "N3": 4, "REM": 2}
    assert summary["balanced_accuracy"] > 0.9 and summary["cohen_kappa"] > 0.9
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["test_epochs"] == 18
    assert stand_ins[0].rates == {sleep_edf.SFREQ}

    assert sleep_edf.main(args) == 0  # second run: tokens come from run/tokens.npz
    captured = capsys.readouterr()
    assert "reusing the tokens" in captured.err and len(stand_ins) == 1
    assert json.loads(captured.out.strip().splitlines()[-1])["balanced_accuracy"] == summary["balanced_accuracy"]


def test_sleep_main_missing_root_is_one_line_and_exit_2(tmp_path, capsys):
    assert sleep_edf.main(["--root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nowhere" in err and "no such folder" in err
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------- TUEV

REFERENTIAL = [f"EEG {e}-REF" for e in tuev.ELECTRODES] + ["EEG A1-REF", "EEG EKG1-REF"]


def write_tuev_file(path, data_uv, events, sfreq, ch_names=REFERENTIAL):
    path.parent.mkdir(parents=True, exist_ok=True)
    write_edf(path, data_uv, ch_names, sfreq)
    path.with_suffix(".rec").write_text("".join(f"{c},{a:.4f},{b:.4f},{code}\n" for c, a, b, code in events))


def test_tcp_bipolar_subtracts_the_right_referential_channels():
    rng = np.random.default_rng(3)
    names = REFERENTIAL[::-1]  # any order
    data = rng.standard_normal((len(names), 50))
    bipolar = tuev.tcp_bipolar(data, names)
    row = {e: data[names.index(f"EEG {e}-REF")] for e in tuev.ELECTRODES}
    assert bipolar.shape == (16, 50)
    np.testing.assert_array_equal(bipolar[0], row["FP1"] - row["F7"])
    for k, (a, b) in enumerate(tuev.TCP_PAIRS):
        np.testing.assert_array_equal(bipolar[k], row[a] - row[b])
    assert tuev.electrode("EEG FP1-LE") == "FP1"
    with pytest.raises(ValueError, match="electrode.*O2"):
        tuev.tcp_bipolar(data[1:], [n for n in names if "O2" not in n])


def test_read_rec_parses_events_and_refuses_unknown_codes(tmp_path):
    rec = tmp_path / "a.rec"
    rec.write_text("14,115.0,116.0,6\n3,7.5,8.5,1\n")
    np.testing.assert_array_equal(tuev.read_rec(rec), [[14, 115.0, 116.0, 6], [3, 7.5, 8.5, 1]])
    rec.write_text("0,1.0,2.0,7\n")
    with pytest.raises(InputFileError, match="codes must be 1..6"):
        tuev.read_rec(rec)
    rec.write_text("0,1.0,2.0\n")
    with pytest.raises(InputFileError, match="4 comma-separated columns"):
        tuev.read_rec(rec)


def test_tuev_layout_windows_and_tcp_values_from_edf(tmp_path):
    rng = np.random.default_rng(4)
    sfreq = 200
    data = 30 * rng.standard_normal((len(REFERENTIAL), 30 * sfreq))
    events = [(0, 10.0, 11.0, 3), (7, 28.5, 29.5, 5), (2, 0.2, 1.2, 6)]  # middle, near the end, near the start
    edf = tmp_path / "tuev" / "v2.0.1" / "edf" / "train" / "00000001" / "00000001_00000001.edf"
    write_tuev_file(edf, data, events, sfreq)
    write_tuev_file(edf.parents[2] / "eval" / "032" / "bckg_032_a_.edf", data, events[:1], sfreq)

    for root in (tmp_path / "tuev" / "v2.0.1", tmp_path / "tuev" / "v2.0.1" / "edf"):
        recordings = tuev.find_recordings(root)
        assert [(r.split, r.subject, r.edf.name) for r in recordings] == [
            ("train", "00000001", "00000001_00000001.edf"),
            ("eval", "032", "bckg_032_a_.edf"),
        ]
    X, labels = tuev.load_recording(edf, edf.with_suffix(".rec"), bandpass=None, notch_hz=None, normalize=False)
    assert X.shape == (3, 16, 1000) and labels.tolist() == [2, 4, 5]  # pled, artf, bckg
    fp1_f7 = data[REFERENTIAL.index("EEG FP1-REF")] - data[REFERENTIAL.index("EEG F7-REF")]
    np.testing.assert_allclose(X[0, 0], fp1_f7[1600:2600], atol=0.05)  # centred: 8 s to 13 s
    np.testing.assert_allclose(X[1, 0], fp1_f7[-1000:], atol=0.05)  # shifted inside the recording
    np.testing.assert_allclose(X[2, 0], fp1_f7[:1000], atol=0.05)
    p4_o2 = data[REFERENTIAL.index("EEG P4-REF")] - data[REFERENTIAL.index("EEG O2-REF")]
    np.testing.assert_allclose(X[0, 15], p4_o2[1600:2600], atol=0.05)

    edf.with_suffix(".rec").unlink()
    with pytest.raises(InputFileError, match="no label file 00000001_00000001.rec"):
        tuev.find_recordings(tmp_path / "tuev" / "v2.0.1")


def test_tuev_default_preprocessing_resamples_to_200_hz(tmp_path):
    rng = np.random.default_rng(5)
    edf = tmp_path / "edf" / "eval" / "001" / "spsw_001_a_.edf"
    write_tuev_file(edf, 30 * rng.standard_normal((len(REFERENTIAL), 20 * 256)), [(0, 9.0, 10.0, 1)], 256)
    X, labels, subjects = tuev.load_tuev(tmp_path, "eval")
    assert X.shape == (1, 16, 1000) and labels.tolist() == [0] and subjects.tolist() == ["001"]
    np.testing.assert_allclose(np.quantile(np.abs(X), 0.95, axis=-1), 1.0, rtol=1e-4)
    with pytest.raises(InputFileError, match="holds no recordings"):
        tuev.load_tuev(tmp_path, "train")


def test_tuev_notches_the_us_mains_frequency(tmp_path):
    """TUH EEG was recorded on 60 Hz mains: the default notch takes out 60 Hz and leaves 50 Hz alone."""
    sfreq = 250
    data = np.zeros((len(REFERENTIAL), 20 * sfreq))
    data[REFERENTIAL.index("EEG FP1-REF")] = tone(60, 20, sfreq) + tone(50, 20, sfreq)  # 40 µV each
    edf = tmp_path / "a.edf"
    write_tuev_file(edf, data, [(0, 9.0, 10.0, 1)], sfreq)
    X, _ = tuev.load_recording(edf, edf.with_suffix(".rec"), normalize=False)  # FP1-F7, 7 s to 12 s at 200 Hz
    amplitude = np.abs(np.fft.rfft(X[0, 0])) / (X.shape[-1] / 2)  # 0.2 Hz bins
    assert amplitude[60 * 5] < 2.0 and amplitude[50 * 5] > 36.0


def test_tuev_main_scores_planted_events_on_the_eval_split(tmp_path, stand_ins, capsys):
    rng = np.random.default_rng(6)
    sfreq = 250
    gains = np.arange(1, len(REFERENTIAL) + 1)[:, None]  # distinct per electrode, so bipolar pairs keep the tone
    # First 15 s background at 4 Hz, last 15 s spike-like activity at 20 Hz; events centred in each.
    signal = np.concatenate([tone(4, 15, sfreq), tone(20, 15, sfreq)])
    events = [(0, 5.0, 6.0, 6), (1, 8.0, 9.0, 6), (0, 20.0, 21.0, 1), (4, 23.0, 24.0, 1)]
    for split, subject in (("train", "00000001"), ("train", "00000002"), ("eval", "007")):
        data = gains * signal + rng.standard_normal((len(REFERENTIAL), signal.size))
        write_tuev_file(tmp_path / "edf" / split / subject / f"{subject}_00000001.edf", data, events, sfreq)
    assert tuev.main(["--root", str(tmp_path), "--out", str(tmp_path / "run")]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["dataset"] == "tuev" and summary["train_windows"] == 8 and summary["test_windows"] == 4
    assert summary["train_subjects"] == 2 and summary["test_subjects"] == 1
    assert summary["test_counts"] == {"spsw": 2, "gped": 0, "pled": 0, "eyem": 0, "artf": 0, "bckg": 2}
    assert summary["balanced_accuracy"] == 1.0
    assert stand_ins[0].rates == {tuev.SFREQ}


def test_tuev_main_missing_root_is_one_line_and_exit_2(tmp_path, capsys):
    assert tuev.main(["--root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nowhere" in err and "edf/train" in err


# ---------------------------------------------------------------- Cam-CAN


def write_parc_fif(path, data, sfreq=250.0, bad=None):
    """An osl-ephys-style parcellated file: parcels as misc channels, a stim channel, bad segments annotated."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n_parcels = data.shape[0]
    info = mne.create_info(
        [f"parcel_{i}" for i in range(n_parcels)] + ["STI101"], sfreq, ["misc"] * n_parcels + ["stim"]
    )
    raw = mne.io.RawArray(np.vstack([data, np.zeros((1, data.shape[1]))]), info, verbose="error")
    if bad is not None:
        raw.set_annotations(mne.Annotations([bad[0]], [bad[1]], ["bad_segment"]))
    raw.save(path, verbose="error")


def test_camcan_fif_layout_prefers_sign_flipped_files_and_drops_bad_segments(tmp_path):
    rng = np.random.default_rng(7)
    for i in range(3):
        folder = tmp_path / "src" / f"sub-CC11000{i}"
        write_parc_fif(folder / "parc" / "lcmv-parc-raw.fif", rng.standard_normal((52, 2000)))
    flipped = 5 + 2 * rng.standard_normal((52, 2000))
    write_parc_fif(tmp_path / "src" / "sub-CC110001" / "sflip-lcmv-parc-raw.fif", flipped, bad=(2.0, 1.0))
    recordings = camcan.find_recordings(tmp_path)
    assert [r.subject for r in recordings] == ["sub-CC110000", "sub-CC110001", "sub-CC110002"]
    assert recordings[1].path.name == "sflip-lcmv-parc-raw.fif"

    courses, subjects = camcan.load_camcan(tmp_path)
    assert subjects == ["sub-CC110000", "sub-CC110001", "sub-CC110002"]
    assert [c.shape for c in courses] == [(52, 2000), (52, 1750), (52, 2000)]  # 1 s bad segment left out
    for c in courses:
        np.testing.assert_allclose(c.mean(axis=1), 0, atol=1e-5)
        np.testing.assert_allclose(c.std(axis=1), 1, rtol=1e-4)
    kept = np.r_[0:500, 750:2000]
    np.testing.assert_allclose(camcan.read_parcels(recordings[1].path), flipped[:, kept], rtol=1e-6)
    with pytest.raises(InputFileError, match="expected 60 parcels, found 52"):
        camcan.read_parcels(recordings[0].path, n_parcels=60)


def test_camcan_reads_numpy_arrays_time_first_and_resamples_fif(tmp_path):
    rng = np.random.default_rng(8)
    arrays = {f"subject{i}": rng.standard_normal((1000 + i, 52)) for i in range(3)}
    for name, array in arrays.items():
        np.save(tmp_path / f"{name}.npy", array)
    courses, subjects = camcan.load_camcan(tmp_path, max_subjects=2)
    assert subjects == ["subject0", "subject1"] and [c.shape for c in courses] == [(52, 1000), (52, 1001)]
    np.testing.assert_allclose(courses[0], camcan.standardize(arrays["subject0"].T), atol=1e-5)
    np.save(tmp_path / "subject0.npy", rng.standard_normal((1000, 50)))
    with pytest.raises(InputFileError, match=r"expected 52 parcels, got an array shaped \(1000, 50\)"):
        camcan.load_camcan(tmp_path)
    fif = tmp_path / "fif" / "sub-A" / "lcmv-parc-raw.fif"
    write_parc_fif(fif, rng.standard_normal((52, 1000)), sfreq=500.0)
    assert camcan.read_parcels(fif).shape == (52, 500)
    with pytest.raises(ValueError, match="parcel 3 is flat"):
        camcan.standardize(np.vstack([rng.standard_normal((3, 10)), np.ones((1, 10))]))


def test_camcan_main_writes_token_archives_for_held_out_subjects(tmp_path, stand_ins, capsys):
    rng = np.random.default_rng(9)
    (tmp_path / "data").mkdir()
    for i in range(5):
        np.save(tmp_path / "data" / f"sub-{i:02d}.npy", rng.standard_normal((750, 52)))
    args = ["--root", str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--test-fraction", "0.4"]
    assert camcan.main(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["train_subjects"] == 3 and summary["test_subjects"] == 2 and summary["n_codes"] == 8
    splits = {}
    for split in ("train", "test"):
        with np.load(tmp_path / "run" / f"{split}_tokens.npz", allow_pickle=False) as archive:
            assert {"tokens", "lengths", "subjects", "sfreq", "n_codes", "settings"} <= set(archive.files)
            assert float(archive["sfreq"]) == 250.0 and int(archive["n_codes"]) == 8
            tokens = np.split(archive["tokens"], np.cumsum(archive["lengths"])[:-1], axis=1)
            splits[split] = archive["subjects"].tolist()
        assert len(tokens) == len(splits[split])
        assert all(t.shape == (52, 750) and t.dtype == np.int16 and 0 <= t.min() and t.max() < 8 for t in tokens)
    assert not set(splits["train"]) & set(splits["test"])
    assert sorted(splits["train"] + splits["test"]) == [f"sub-{i:02d}" for i in range(5)]

    assert camcan.main(args) == 0
    assert "reusing" in capsys.readouterr().err


def test_camcan_main_missing_root_is_one_line_and_exit_2(tmp_path, capsys):
    assert camcan.main(["--root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nowhere" in err and "parc-raw.fif" in err
    (tmp_path / "empty").mkdir()
    assert camcan.main(["--root", str(tmp_path / "empty"), "--out", str(tmp_path / "run")]) == 2
    assert "no parcel time courses" in capsys.readouterr().err
