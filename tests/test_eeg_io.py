"""tfsignal.io.load_eeg: EDF, BDF, FIF, BrainVision and EEGLAB files written here, and one-line refusals."""

import struct
import sys
import warnings

import numpy as np
import pytest

from tfsignal.io import InputFileError, load_eeg

mne = pytest.importorskip("mne")
FIFF = mne.io.constants.FIFF

CHANNELS = ["Cz", "Pz", "Oz"]
SFREQ = 100.0


@pytest.fixture
def signal():
    """3 channels x 5 s of noise in microvolts, as float32 (what every writer below stores exactly or closely)."""
    return (10 * np.random.default_rng(0).standard_normal((len(CHANNELS), 500))).astype(np.float32)


def raw_of(signal):
    raw = mne.io.RawArray(signal.astype(np.float64) * 1e-6, mne.create_info(CHANNELS, SFREQ, "eeg"), verbose="error")
    raw.set_annotations(mne.Annotations(onset=[1.0, 3.0], duration=[0.5, 0.5], description=["T1", "T2"]))
    return raw


def check_read(path, signal, atol_uv, annotations=True):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # mne must stay quiet
        raw = load_eeg(path)
    assert raw.preload and raw.ch_names == CHANNELS and raw.info["sfreq"] == SFREQ
    np.testing.assert_allclose(raw.get_data() * 1e6, signal, atol=atol_uv)
    if annotations:
        assert list(raw.annotations.description) == ["T1", "T2"]
        np.testing.assert_allclose(raw.annotations.onset, [1.0, 3.0])
    return raw


def test_reads_edf_and_bdf_written_by_mne(tmp_path, signal):
    span = np.ptp(signal)
    mne.export.export_raw(tmp_path / "rec.edf", raw_of(signal), verbose="error")
    check_read(tmp_path / "rec.edf", signal, atol_uv=span / 2**15)  # 16-bit samples
    mne.export.export_raw(tmp_path / "rec.bdf", raw_of(signal), verbose="error")
    check_read(tmp_path / "rec.bdf", signal, atol_uv=span / 2**23)  # 24-bit samples
    assert not load_eeg(tmp_path / "rec.edf", preload=False).preload


def test_reads_fif_whatever_its_name(tmp_path, signal):
    raw_of(signal).save(tmp_path / "rec_raw.fif", verbose="error")
    check_read(tmp_path / "rec_raw.fif", signal, atol_uv=1e-3)
    raw_of(signal).save(tmp_path / "rec.fif", verbose="error")  # mne warns about such names, unless silenced
    check_read(tmp_path / "rec.fif", signal, atol_uv=1e-3)


def test_reads_maxshield_fif_with_a_warning(tmp_path, signal):
    """A FIF whose samples sit in an internal-active-shielding block, as MEGIN/Elekta MaxShield recordings do."""
    raw_of(signal).save(tmp_path / "rec_raw.fif", verbose="error")
    content = (tmp_path / "rec_raw.fif").read_bytes()
    for tag in (FIFF.FIFF_BLOCK_START, FIFF.FIFF_BLOCK_END):  # tag header: kind, type (int), size, next; then data
        header = struct.pack(">4i", tag, FIFF.FIFFT_INT, 4, 0)
        assert content.count(header + struct.pack(">i", FIFF.FIFFB_RAW_DATA)) == 1
        content = content.replace(
            header + struct.pack(">i", FIFF.FIFFB_RAW_DATA), header + struct.pack(">i", FIFF.FIFFB_IAS_RAW_DATA)
        )
    (tmp_path / "ias_raw.fif").write_bytes(content)
    with pytest.raises(ValueError, match="allow_maxshield"):
        mne.io.read_raw_fif(tmp_path / "ias_raw.fif", verbose="error")  # what load_eeg spares its callers
    with pytest.warns(RuntimeWarning, match=r"ias_raw\.fif: MaxShield data not yet MaxFiltered"):
        raw = load_eeg(tmp_path / "ias_raw.fif")
    assert raw.info["maxshield"]
    np.testing.assert_allclose(raw.get_data() * 1e6, signal, atol=1e-3)


def test_reads_brainvision(tmp_path, signal):
    """A header, marker file and float32 multiplexed samples, written to the BrainVision 1.0 layout."""
    header = [
        "Brain Vision Data Exchange Header File Version 1.0",
        "",
        "[Common Infos]",
        "Codepage=UTF-8",
        "DataFile=rec.eeg",
        "MarkerFile=rec.vmrk",
        "DataFormat=BINARY",
        "DataOrientation=MULTIPLEXED",
        f"NumberOfChannels={len(CHANNELS)}",
        f"SamplingInterval={1e6 / SFREQ:g}",
        "",
        "[Binary Infos]",
        "BinaryFormat=IEEE_FLOAT_32",
        "",
        "[Channel Infos]",
        *[f"Ch{i + 1}={name},,1,µV" for i, name in enumerate(CHANNELS)],
    ]
    markers = [
        "Brain Vision Data Exchange Marker File Version 1.0",
        "",
        "[Common Infos]",
        "Codepage=UTF-8",
        "DataFile=rec.eeg",
        "",
        "[Marker Infos]",
        "Mk1=Stimulus,T1,101,1,0",  # positions count samples from 1
        "Mk2=Stimulus,T2,301,1,0",
    ]
    (tmp_path / "rec.vhdr").write_text("\n".join(header) + "\n", encoding="utf-8")
    (tmp_path / "rec.vmrk").write_text("\n".join(markers) + "\n", encoding="utf-8")
    signal.T.astype("<f4").tofile(tmp_path / "rec.eeg")
    raw = check_read(tmp_path / "rec.vhdr", signal, atol_uv=1e-4, annotations=False)
    np.testing.assert_allclose(raw.annotations.onset, [1.0, 3.0])
    (tmp_path / "rec.eeg").unlink()
    with pytest.raises(InputFileError, match=r"rec\.vhdr: not a readable BrainVision file"):
        load_eeg(tmp_path / "rec.vhdr")


def test_reads_eeglab(tmp_path, signal):
    """A minimal EEGLAB dataset (MATLAB v5 file with the EEG struct and the samples inside it)."""
    scipy_io = pytest.importorskip("scipy.io")
    n_times = signal.shape[1]
    chanlocs = np.zeros(len(CHANNELS), dtype=[("labels", object), ("X", object), ("Y", object), ("Z", object)])
    for i, name in enumerate(CHANNELS):
        chanlocs[i] = (name, np.array([]), np.array([]), np.array([]))
    eeg = {
        "setname": "rec",
        "nbchan": len(CHANNELS),
        "trials": 1,
        "pnts": n_times,
        "srate": SFREQ,
        "xmin": 0.0,
        "xmax": (n_times - 1) / SFREQ,
        "data": signal,
        "chanlocs": chanlocs,
        "event": np.array([]),
        "chaninfo": {"plotrad": np.array([])},
        "ref": "common",
    }
    scipy_io.savemat(tmp_path / "rec.set", {"EEG": eeg}, appendmat=False, oned_as="row")
    check_read(tmp_path / "rec.set", signal, atol_uv=1e-4, annotations=False)


@pytest.mark.parametrize(
    "name, content, problem",
    [
        ("missing.edf", None, "no such file"),
        ("notes.txt", b"hello", "unsupported EEG format '.txt'"),
        ("noise.wav", b"RIFF", "unsupported EEG format '.wav'"),
        ("broken.edf", b"0       garbage", "not a readable EDF file"),
        ("broken.bdf", b"\xffBIOSEMI", "not a readable BDF file"),
        ("broken_raw.fif", b"\x00" * 64, "not a readable FIF file"),
        ("broken.set", b"MATLAB? no", "not a readable EEGLAB file"),
        ("broken.vhdr", b"not a header", "not a readable BrainVision file"),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path, name, content, problem):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputFileError) as caught:
        load_eeg(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and problem in message and "\n" not in message


def test_a_folder_is_refused(tmp_path):
    (tmp_path / "rec.edf").mkdir()
    with pytest.raises(InputFileError, match="is a directory"):
        load_eeg(tmp_path / "rec.edf")


def test_without_mne_the_error_says_what_to_install(tmp_path, signal, monkeypatch):
    mne.export.export_raw(tmp_path / "rec.edf", raw_of(signal), verbose="error")
    monkeypatch.setitem(sys.modules, "mne", None)  # makes `import mne` fail
    with pytest.raises(ImportError, match=r"tfsignal\[eeg\]"):
        load_eeg(tmp_path / "rec.edf")
