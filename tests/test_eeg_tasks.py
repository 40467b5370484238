"""tfsignal.eeg_datasets and recipes.eeg.tasks on small synthetic EDF files laid out like eegmmidb and eegmat.

The files carry a planted class difference: a 10 Hz rhythm stronger over C3 for imagined left fist
and over C4 for right fist, and strong occipital alpha at rest that fades during arithmetic.
"""

import json

import numpy as np
import pytest
from sklearn.base import BaseEstimator

from recipes.eeg.tasks import evaluate as eeg_tasks
from tfsignal.data.splits import split_subjects
from tfsignal.eeg_datasets import (
    EEGMAT_CHANNELS,
    load_mental_arithmetic,
    load_motor_imagery,
    recording_paths,
)
from tfsignal.io import InputFileError

mne = pytest.importorskip("mne")

IMAGERY_SUBJECTS = ["S001", "S002", "S003"]
IMAGERY_CHANNELS = ["Fc3.", "C3..", "Cz..", "C4..", "Fc4.", "Cp3.", "Cp4.", "Pz.."]  # BCI2000 spelling
IMAGERY_RATE = 160.0
TRIALS_PER_RUN = 6  # three of each class
EEGMAT_SUBJECTS = ["Subject00", "Subject01", "Subject02", "Subject03"]
EEGMAT_RATE = 100.0
# The source files' EEG names, shuffled, with the two channels the loader must drop.
EEGMAT_FILE_CHANNELS = ["ECG ECG"] + [f"EEG {name}" for name in reversed(EEGMAT_CHANNELS)] + ["EEG A2-A1"]


def write_edf(path, data_uv, names, rate, annotations=None):
    raw = mne.io.RawArray(data_uv * 1e-6, mne.create_info(names, rate, "eeg"), verbose="error")
    if annotations:
        onsets, durations, labels = zip(*annotations)
        raw.set_annotations(mne.Annotations(onsets, durations, labels))
    mne.export.export_raw(path, raw, verbose="error")


def alpha(rng, n_times, rate, amplitude):
    t = np.arange(n_times) / rate
    return amplitude * np.sin(2 * np.pi * (10.0 + 0.5 * rng.standard_normal()) * t + rng.uniform(0, 2 * np.pi))


def write_imagery_run(path, rng):
    """T0 (1.5 s) between 4.1 s trials of T1/T2 in random order; the 10 Hz rhythm tracks the cue."""
    n_times = int((TRIALS_PER_RUN * 5.6 + 2.0) * IMAGERY_RATE)
    data = 5.0 * rng.standard_normal((len(IMAGERY_CHANNELS), n_times))
    c3, c4 = IMAGERY_CHANNELS.index("C3.."), IMAGERY_CHANNELS.index("C4..")
    annotations, onset = [(0.0, 1.5, "T0")], 1.5
    for cue in rng.permutation(["T1", "T2"] * (TRIALS_PER_RUN // 2)):
        start, length = int(onset * IMAGERY_RATE), int(4.1 * IMAGERY_RATE)
        strong, weak = (c3, c4) if cue == "T1" else (c4, c3)
        data[strong, start : start + length] += alpha(rng, length, IMAGERY_RATE, 8.0)
        data[weak, start : start + length] += alpha(rng, length, IMAGERY_RATE, 2.0)
        annotations += [(onset, 4.1, str(cue)), (onset + 4.1, 1.5, "T0")]
        onset += 5.6
    write_edf(path, data, IMAGERY_CHANNELS, IMAGERY_RATE, annotations)


def write_eegmat_file(path, rng, arithmetic, seconds):
    n_times = int(seconds * EEGMAT_RATE)
    data = 5.0 * rng.standard_normal((len(EEGMAT_FILE_CHANNELS), n_times))
    for name in ("EEG O1", "EEG O2", "EEG P3", "EEG P4"):
        data[EEGMAT_FILE_CHANNELS.index(name)] += alpha(rng, n_times, EEGMAT_RATE, 2.0 if arithmetic else 8.0)
    write_edf(path, data, EEGMAT_FILE_CHANNELS, EEGMAT_RATE)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """Both layouts: 3 subjects x runs R04/R08/R12, and 4 subjects x rest (28 s) / arithmetic (20 s)."""
    root = tmp_path_factory.mktemp("eeg")
    rng = np.random.default_rng(0)
    for subject in IMAGERY_SUBJECTS:
        (root / "eegmmidb" / subject).mkdir(parents=True)
        for run in (4, 8, 12):
            write_imagery_run(root / "eegmmidb" / subject / f"{subject}R{run:02d}.edf", rng)
    (root / "eegmat").mkdir()
    for subject in EEGMAT_SUBJECTS:
        write_eegmat_file(root / "eegmat" / f"{subject}_1.edf", rng, arithmetic=False, seconds=28)
        write_eegmat_file(root / "eegmat" / f"{subject}_2.edf", rng, arithmetic=True, seconds=20)
    return root


def run_recipe(capsys, *args):
    code = eeg_tasks.main(["--out", "", *args])  # writes no report unless args give --out
    captured = capsys.readouterr()
    return code, captured.out.strip().splitlines(), captured.err.strip()


def test_motor_imagery_loader(root):
    epochs, y, subjects = load_motor_imagery(root)
    n_trials = len(IMAGERY_SUBJECTS) * 3 * TRIALS_PER_RUN
    assert len(epochs) == len(y) == len(subjects) == n_trials
    assert epochs.get_data().shape == (n_trials, len(IMAGERY_CHANNELS), 4 * 160 + 1)
    assert epochs.ch_names == ["FC3", "C3", "Cz", "C4", "FC4", "CP3", "CP4", "Pz"]
    assert epochs.get_montage() is not None
    np.testing.assert_array_equal(np.bincount(y), [n_trials // 2, n_trials // 2])
    assert list(np.unique(subjects, return_counts=True)[1]) == [3 * TRIALS_PER_RUN] * 3
    assert list(subjects[:: 3 * TRIALS_PER_RUN]) == IMAGERY_SUBJECTS
    # the labels follow the cues: the planted 10 Hz rhythm is stronger over C3 in class 0 (T1)
    power = (epochs.get_data(picks=["C3", "C4"]) ** 2).mean(-1)
    assert (power[y == 0, 0] > power[y == 0, 1]).all() and (power[y == 1, 1] > power[y == 1, 0]).all()
    shorter, *_ = load_motor_imagery(root, tmin=0.5, tmax=2.5, l_freq=8.0, h_freq=30.0, subjects=["S002"])
    assert shorter.get_data().shape == (3 * TRIALS_PER_RUN, len(IMAGERY_CHANNELS), 2 * 160 + 1)


def test_mental_arithmetic_loader(root):
    epochs, y, subjects = load_mental_arithmetic(root, window_s=4.0, crop_s=20.0)
    n_windows = len(EEGMAT_SUBJECTS) * 2 * 5  # 20 s files cut into 4 s windows
    assert epochs.get_data().shape == (n_windows, 19, 400)
    assert epochs.ch_names == list(EEGMAT_CHANNELS)  # A2-A1 and ECG dropped, canonical order
    np.testing.assert_array_equal(y, np.tile(np.repeat([0, 1], 5), len(EEGMAT_SUBJECTS)))
    np.testing.assert_array_equal(subjects, np.repeat(EEGMAT_SUBJECTS, 10))
    whole, y_whole, _ = load_mental_arithmetic(root, window_s=4.0, crop_s=None, subjects=["Subject01"])
    assert len(whole) == 7 + 5 and list(np.bincount(y_whole)) == [7, 5]  # the 28 s rest file kept whole


def test_recording_paths_and_subject_split(root):
    recordings = recording_paths(root)
    assert len(recordings) == 3 * 3 + 4 * 2
    assert {r.subject for r in recordings} == set(IMAGERY_SUBJECTS + EEGMAT_SUBJECTS)
    assert all(r.path.exists() and r.subject in r.path.name for r in recordings)
    assert {r.dataset for r in recordings} == {"eegmmidb", "eegmat"}
    train, test = split_subjects([r.subject for r in recordings], test_fraction=0.3, seed=1)
    assert len(test) == 2 and not set(train) & set(test) and len(train) + len(test) == 7
    assert split_subjects([r.subject for r in recordings], test_fraction=0.3, seed=1) == (train, test)
    with pytest.raises(ValueError, match="two subjects"):
        split_subjects(["S001", "S001"])


def test_loaders_name_what_is_missing(root, tmp_path):
    with pytest.raises(InputFileError, match="EEG data folder not found"):
        load_motor_imagery(tmp_path / "nowhere")
    with pytest.raises(InputFileError, match="no eegmat folder"):
        load_mental_arithmetic(tmp_path)
    with pytest.raises(InputFileError, match=r"S009R04\.edf: no such file"):
        load_motor_imagery(root, subjects=["S009"])


def test_csp_lda_recovers_the_planted_lateralisation(root, tmp_path, capsys):
    out = tmp_path / "runs"
    code, stdout, stderr = run_recipe(
        capsys, "--task", "motor_imagery", "--data", str(root), "--methods", "csp_lda,bandpower_lr", "--out", str(out)
    )
    assert code == 0
    summary = json.loads(stdout[-1])
    assert summary["protocol"] == "leave-one-subject-out over 3 subjects" and summary["n_epochs"] == 54
    csp = summary["methods"]["csp_lda"]
    assert csp["balanced_accuracy"] > 0.8 and len(csp["folds"]) == 3
    assert [fold["test_subjects"] for fold in csp["folds"]] == [[s] for s in IMAGERY_SUBJECTS]
    assert csp["balanced_accuracy"] == pytest.approx(np.mean([f["balanced_accuracy"] for f in csp["folds"]]), abs=1e-3)
    assert summary["skipped"] == {} and "| csp_lda |" in stderr
    assert json.loads((out / "motor_imagery.json").read_text()) == summary


def test_band_power_separates_rest_from_arithmetic_with_group_folds(root, capsys):
    args = "--task mental_arithmetic --methods bandpower_lr --folds 2".split()
    code, stdout, _ = run_recipe(capsys, *args, "--data", str(root))
    assert code == 0
    summary = json.loads(stdout[-1])
    assert summary["protocol"] == "2-fold GroupKFold over 4 subjects" and summary["class_counts"] == [28, 20]
    result = summary["methods"]["bandpower_lr"]
    assert result["balanced_accuracy"] > 0.8
    assert sorted(s for fold in result["folds"] for s in fold["test_subjects"]) == EEGMAT_SUBJECTS


class AmplitudeTokenizer(BaseEstimator):
    """Stands in for a pre-trained TFMTokenizer: each sample's |amplitude| (µV) binned into n_codes codes."""

    def __init__(self, n_codes=6):
        self.n_codes = n_codes

    def fit(self, X, y=None):
        raise AssertionError("a pre-trained tokenizer must not be refitted")

    def transform(self, epochs):
        self.n_transforms_ += 1
        return np.digitize(np.abs(epochs.get_data() * 1e6), self.edges_)


def test_token_methods_use_the_tokenizer_as_trained_and_tokenise_once(root, capsys, monkeypatch):
    tokenizer = AmplitudeTokenizer()
    tokenizer.edges_ = np.linspace(0.0, 15.0, tokenizer.n_codes)[1:]  # "trained" before the recipe runs
    tokenizer.n_transforms_ = 0
    monkeypatch.setitem(eeg_tasks.METHODS, "tfm_hist_lr", lambda args: eeg_tasks.token_hist_lr(tokenizer))
    code, stdout, _ = run_recipe(capsys, "--task", "motor_imagery", "--data", str(root), "--methods", "tfm_hist_lr")
    assert code == 0
    result = json.loads(stdout[-1])["methods"]["tfm_hist_lr"]
    assert result["balanced_accuracy"] > 0.8 and len(result["folds"]) == 3
    assert tokenizer.n_transforms_ == 1  # one pass over all epochs serves the three folds
    # two methods on one tokenizer share that pass too
    monkeypatch.setitem(eeg_tasks.METHODS, "tfm_transformer", lambda args: eeg_tasks.token_hist_lr(tokenizer))
    methods = "tfm_hist_lr,tfm_transformer"
    code, stdout, _ = run_recipe(capsys, "--task", "motor_imagery", "--data", str(root), "--methods", methods)
    assert code == 0 and set(json.loads(stdout[-1])["methods"]) == {"tfm_hist_lr", "tfm_transformer"}
    assert tokenizer.n_transforms_ == 2


class PrecomputedTokens:
    """Stands in for a sample tokenizer: epochs are integer indices into precomputed token arrays."""

    n_codes = 8

    def __init__(self, tokens):
        self.tokens = tokens

    def transform(self, indices):
        return self.tokens[np.asarray(indices)]


def test_meggpt_head_learns_from_the_tokens():
    rng = np.random.default_rng(0)
    y = np.arange(40) % 2
    tokens = rng.integers(0, 8, size=(40, 3, 160))
    tokens[:, 0] = rng.integers(0, 4, size=(40, 160)) + 4 * y[:, None]  # channel 0: codes 0-3 or 4-7
    method = eeg_tasks.meggpt_head(PrecomputedTokens(tokens), steps=60)
    tokens = method.tokenize(np.arange(40))
    assert (method.predict(tokens[:30], y[:30], tokens[30:]) == y[30:]).mean() >= 0.9


def test_a_tokenizer_that_cannot_load_is_skipped_with_the_reason(root, tmp_path, capsys):
    missing = str(tmp_path / "no_tokenizer")
    args = "--task motor_imagery --methods tfm_hist_lr,csp_lda".split()
    code, stdout, stderr = run_recipe(capsys, *args, "--data", str(root), "--tokenizer", missing)
    assert code == 0
    summary = json.loads(stdout[-1])
    assert list(summary["methods"]) == ["csp_lda"]
    assert "cannot load TFM tokenizer" in summary["skipped"]["tfm_hist_lr"] and "no_tokenizer" in stderr


@pytest.mark.parametrize(
    "args, problem",
    [
        (["--data", "{tmp}/nowhere"], "EEG data folder not found"),
        (["--data", "{tmp}"], "no eegmmidb folder"),
        (["--methods", "csp_lda,magic"], "unknown method magic"),
        (["--folds", "1"], "--folds must be 0"),
        (["--folds", "5", "--data", "{root}"], "3 subject(s) cannot be split into 5 folds"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(root, tmp_path, capsys, args, problem):
    args = [a.format(tmp=tmp_path, root=root) for a in args]
    code, stdout, stderr = run_recipe(capsys, "--task", "motor_imagery", *args)
    assert code == 2 and stdout == [] and "\n" not in stderr and problem in stderr
