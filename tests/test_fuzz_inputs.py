"""Property-based fuzzing of the file readers and of the command line on files from the wild.

``load_audio`` and ``AudioReader``, ``load_eeg`` and ``read_series_file`` get random bytes, real
files cut short or with bits flipped, and headers written by hand with absurd fields (zero
channels, zero or huge sampling rates, lengths that lie); ``save_audio`` and ``as_series_list`` get
arrays of random shape and dtype, with NaN and Inf. Each call must either return a valid result or
raise the one documented error (:class:`tfsignal.io.InputFileError` for files, ``ValueError`` for
arrays) with a one-line message naming the file.

CI runs a small fixed number of examples per test, the same ones on every run (derandomised). To
fuzz longer, set ``TFSIGNAL_FUZZ_EXAMPLES``::

    TFSIGNAL_FUZZ_EXAMPLES=2000 python -m pytest tests/test_fuzz_inputs.py
"""

import io
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tfsignal.cli import main
from tfsignal.io import AudioReader, InputFileError, load_audio, load_eeg, save_audio
from tfsignal.series import as_series_list, read_series_file

DATA = Path(__file__).parent / "data"
EXAMPLES = int(os.environ.get("TFSIGNAL_FUZZ_EXAMPLES", "30"))
fuzz = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# ------------------------------------------------------------------------------------ file makers


def wav_bytes(
    channels: int = 1,
    rate: int = 8000,
    bits: int = 16,
    frames: int = 64,
    data_size: int | None = None,
    format_tag: int = 1,
) -> bytes:
    """A RIFF/WAVE file written field by field; ``data_size`` may lie about the samples that follow."""
    block_align = channels * bits // 8 % 2**16
    payload = (bytes(range(256)) * 256)[: frames * block_align]  # at most 64 KiB whatever the header says
    fmt = struct.pack("<HHIIHH", format_tag, channels, rate, rate * block_align % 2**32, block_align, bits)
    data_size = len(payload) if data_size is None else data_size
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", data_size) + payload
    return b"RIFF" + struct.pack("<I", len(body) % 2**32) + body


def edf_field(value, width: int) -> bytes:
    return str(value).encode("latin-1")[:width].ljust(width)


def edf_bytes(
    n_signals: int = 2,
    n_records: int = 3,
    duration: float | str = 1,
    samples_per_record: int = 16,
    physical: tuple = (-200, 200),
    digital: tuple = (-32768, 32767),
    header_bytes: int | None = None,
    bdf: bool = False,
) -> bytes:
    """An EDF (or BDF) file: the 256-byte header, 256 bytes per signal, then the data records.

    Every header field can be given a value a real recorder would never write.
    """
    version = b"\xffBIOSEMI" if bdf else edf_field(0, 8)
    header = version + edf_field("X X X X", 80) + edf_field("Startdate X X X X", 80)
    header += edf_field("01.01.20", 8) + edf_field("00.00.00", 8)
    header += edf_field(header_bytes if header_bytes is not None else 256 * (1 + max(n_signals, 0)), 8)
    header += edf_field("24BIT" if bdf else "", 44) + edf_field(n_records, 8) + edf_field(duration, 8)
    header += edf_field(n_signals, 4)
    signals = range(max(n_signals, 0))
    fields = [
        ([f"EEG {k}" for k in signals], 16),
        (["AgAgCl" for _ in signals], 80),
        (["uV" for _ in signals], 8),
        ([physical[0] for _ in signals], 8),
        ([physical[1] for _ in signals], 8),
        ([digital[0] for _ in signals], 8),
        ([digital[1] for _ in signals], 8),
        (["" for _ in signals], 80),
        ([samples_per_record for _ in signals], 8),
        (["" for _ in signals], 32),
    ]
    for values, width in fields:
        header += b"".join(edf_field(v, width) for v in values)
    width = 3 if bdf else 2
    n_samples = max(n_signals, 0) * max(samples_per_record, 0) * min(max(n_records, 0), 4)
    data = bytes(range(256)) * (min(n_samples * width, 2**16) // 256)  # at most 64 KiB whatever the header says
    return header + data


def tiny_wav() -> bytes:
    """A real recording's first 0.1 s as a 16-bit WAV."""
    speech, rate = sf.read(DATA / "speech_lj.flac", frames=1600, dtype="float32")
    buffer = io.BytesIO()
    sf.write(buffer, speech, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


TS_TEXT = (
    "@problemName tiny\n@timeStamps false\n@missing false\n@univariate false\n@dimensions 2\n"
    "@equalLength true\n@seriesLength 4\n@classLabel true up down\n@data\n"
    "1,2,3,4:4,5,6,7:up\n1,2,1,2:3,4,3,4:down\n"
)
CSV_TEXT = "1,2,3,4,5\n0.5,0.25,0,-1,2\n"


def npy_bytes() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.arange(24, dtype=np.float32).reshape(2, 3, 4))
    return buffer.getvalue()


REAL = {
    ".wav": tiny_wav(),
    ".flac": (DATA / "speech_libri.flac").read_bytes(),
    ".edf": (DATA / "eeg_fp1_60s.edf").read_bytes(),
    ".bdf": edf_bytes(bdf=True),
    ".ts": TS_TEXT.encode(),
    ".csv": CSV_TEXT.encode(),
    ".npy": npy_bytes(),
}


def damaged(data: bytes, cut: int, flips: list[tuple[int, int]]) -> bytes:
    """``data`` cut to ``cut`` bytes, then one bit flipped per (position, bit) that falls inside."""
    out = bytearray(data[:cut])
    for position, bit in flips:
        if position < len(out):
            out[position] ^= 1 << bit
    return bytes(out)


@st.composite
def damage(draw, data: bytes):
    """A real file cut short and with a few bits flipped, mostly in the first 512 bytes (the header)."""
    cut = draw(st.one_of(st.just(len(data)), st.integers(0, len(data))))
    position = st.one_of(st.integers(0, min(511, len(data) - 1)), st.integers(0, len(data) - 1))
    flips = draw(st.lists(st.tuples(position, st.integers(0, 7)), max_size=6))
    return damaged(data, cut, flips)


# ------------------------------------------------------------------------- what a result must be


def check_audio(path: Path, sr: int | None = None) -> None:
    """``load_audio`` and ``AudioReader`` on ``path``: valid samples, or InputFileError naming it."""
    try:
        x, rate = load_audio(path, sr=sr)
    except InputFileError as err:
        assert_names(err, path)
    else:
        assert x.dtype == np.float32 and x.ndim == 1 and x.size > 0 and np.isfinite(x).all()
        assert isinstance(rate, int) and rate > 0 and (sr is None or rate == sr)
    try:
        with AudioReader(path) as reader:
            block = reader.read(0, min(reader.frames, 4096))
            assert block.shape == (reader.channels, min(reader.frames, 4096)) and np.isfinite(block).all()
            assert reader.rate > 0 and reader.channels > 0
    except InputFileError as err:
        assert_names(err, path)


def check_eeg(path: Path) -> None:
    try:
        raw = load_eeg(path)
    except InputFileError as err:
        assert_names(err, path)
    else:
        data = raw.get_data()
        assert data.shape == (len(raw.ch_names), raw.n_times) and raw.n_times > 0 and len(raw.ch_names) > 0
        assert np.isfinite(data).all() and raw.info["sfreq"] > 0


def check_series(path: Path) -> None:
    try:
        series, labels = read_series_file(path)
    except InputFileError as err:
        assert_names(err, path)
    else:
        assert_valid_series(series)
        assert labels is None or len(labels) == len(series)


def assert_valid_series(series: list[np.ndarray]) -> None:
    assert isinstance(series, list) and len(series) > 0
    assert all(x.dtype == np.float32 and x.ndim == 2 and x.shape[0] > 0 and x.shape[1] > 0 for x in series)
    assert len({x.shape[0] for x in series}) == 1
    assert not any(np.isinf(x).any() for x in series)  # NaN marks a missing value; Inf is refused


def assert_names(err: InputFileError, path: Path) -> None:
    message = str(err)
    assert message.startswith(f"{path}: ") and "\n" not in message and len(message) < 500, message


CHECKS = {
    ".wav": check_audio,
    ".flac": check_audio,
    ".edf": check_eeg,
    ".bdf": check_eeg,
    ".fif": check_eeg,
    ".vhdr": check_eeg,
    ".set": check_eeg,
    ".ts": check_series,
    ".csv": check_series,
    ".npy": check_series,
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# ------------------------------------------------------------------------------------- the readers


@pytest.mark.parametrize("suffix", list(CHECKS))
@fuzz
@given(data=st.binary(max_size=1024))
def test_random_bytes_are_read_or_refused(folder, suffix, data):
    path = folder / f"random{suffix}"
    path.write_bytes(data)
    CHECKS[suffix](path)


@pytest.mark.parametrize("suffix", list(REAL))
@fuzz
@given(st.data())
def test_damaged_real_files_are_read_or_refused(folder, suffix, data):
    path = folder / f"damaged{suffix}"
    path.write_bytes(data.draw(damage(REAL[suffix])))
    CHECKS[suffix](path)


WAV_HEADERS = {
    "zero channels": dict(channels=0),
    "zero rate": dict(rate=0),
    "rate of 1 Hz": dict(rate=1),
    "largest rate": dict(rate=2**31 - 1),
    "rate over 2**31": dict(rate=2**32 - 1),
    "1024 channels": dict(channels=1024, frames=2),
    "65535 channels": dict(channels=65535, frames=1),
    "zero bits": dict(bits=0),
    "7 bits": dict(bits=7),
    "zero frames": dict(frames=0),
    "data longer than the file": dict(data_size=2**32 - 1),
    "data shorter than the file": dict(data_size=3),
    "float NaN samples": dict(format_tag=3, bits=32),
    "unknown format tag": dict(format_tag=0x7777),
}


@pytest.mark.parametrize("sr", [None, 16000])
@pytest.mark.parametrize("fields", list(WAV_HEADERS.values()), ids=list(WAV_HEADERS))
def test_wav_headers_with_absurd_fields(folder, fields, sr):
    path = folder / "absurd.wav"
    path.write_bytes(wav_bytes(**fields))
    check_audio(path, sr=sr)


@fuzz
@given(
    channels=st.integers(0, 70000),
    rate=st.one_of(st.integers(0, 2**32 - 1), st.sampled_from([1, 7, 8000, 44100, 2**31 - 1])),
    bits=st.sampled_from([0, 1, 8, 12, 16, 24, 32, 64, 65535]),
    frames=st.integers(0, 40),
    data_size=st.one_of(st.none(), st.integers(0, 2**32 - 1)),
    format_tag=st.sampled_from([1, 3, 6, 7, 0xFFFE, 0]),
)
def test_wav_header_fields_at_random(folder, channels, rate, bits, frames, data_size, format_tag):
    path = folder / "fields.wav"
    args = dict(frames=frames, data_size=data_size, format_tag=format_tag)
    path.write_bytes(wav_bytes(channels % 2**16, rate, bits, **args))
    check_audio(path, sr=16000)


EDF_HEADERS = {
    "zero signals": dict(n_signals=0),
    "negative signals": dict(n_signals=-3),
    "9999 signals": dict(n_signals=9999),
    "zero records": dict(n_records=0),
    "unknown records (-1)": dict(n_records=-1),
    "records that lie": dict(n_records=99999999),
    "zero duration": dict(duration=0),
    "negative duration": dict(duration=-1),
    "huge duration": dict(duration=99999999),
    "tiny duration": dict(duration="1e-300"),
    "text duration": dict(duration="soon"),
    "zero samples per record": dict(samples_per_record=0),
    "huge samples per record": dict(samples_per_record=99999999),
    "flat physical range": dict(physical=(5, 5)),
    "flat digital range": dict(digital=(7, 7)),
    "text physical range": dict(physical=("low", "high")),
    "header size that lies": dict(header_bytes=99999),
    "header size zero": dict(header_bytes=0),
}


@pytest.mark.parametrize("bdf", [False, True], ids=["edf", "bdf"])
@pytest.mark.parametrize("fields", list(EDF_HEADERS.values()), ids=list(EDF_HEADERS))
def test_edf_headers_with_absurd_fields(folder, fields, bdf):
    path = folder / ("absurd.bdf" if bdf else "absurd.edf")
    path.write_bytes(edf_bytes(bdf=bdf, **fields))
    check_eeg(path)


@fuzz
@given(
    st.fixed_dictionaries(
        {
            "n_signals": st.integers(-1, 40),
            "n_records": st.integers(-2, 10**8),
            "duration": st.one_of(st.integers(-1, 10**8), st.floats(allow_nan=True, allow_infinity=True)),
            "samples_per_record": st.integers(-1, 10**8),
            "physical": st.tuples(st.integers(-(10**7), 10**7), st.integers(-(10**7), 10**7)),
            "digital": st.tuples(st.integers(-(2**23), 2**23), st.integers(-(2**23), 2**23)),
            "bdf": st.booleans(),
        }
    )
)
def test_edf_header_fields_at_random(folder, fields):
    path = folder / ("fields.bdf" if fields["bdf"] else "fields.edf")
    path.write_bytes(edf_bytes(**fields))
    check_eeg(path)


NPY_HEADERS = {
    "shape that lies": b"{'descr': '<f4', 'fortran_order': False, 'shape': (1000, 1000, 1000), }",
    "zero series": b"{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3, 4), }",
    "zero steps": b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 0), }",
    "zero channels": b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 0, 4), }",
    "four dimensions": b"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 2), }",
    "a scalar": b"{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
    "strings": b"{'descr': '<U2', 'fortran_order': False, 'shape': (2, 3), }",
    "objects": b"{'descr': '|O', 'fortran_order': False, 'shape': (2, 3), }",
    "complex": b"{'descr': '<c8', 'fortran_order': False, 'shape': (2, 3), }",
    "datetimes": b"{'descr': '<M8[s]', 'fortran_order': False, 'shape': (2, 3), }",
    "unknown dtype": b"{'descr': '<q9', 'fortran_order': False, 'shape': (2, 3), }",
}


@pytest.mark.parametrize("header", list(NPY_HEADERS.values()), ids=list(NPY_HEADERS))
def test_npy_headers_with_absurd_fields(folder, header):
    path = folder / "absurd.npy"
    header = header.ljust(118) + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + bytes(range(256)) * 4)
    check_series(path)


@pytest.mark.parametrize(
    "suffix, text",
    [
        (".ts", TS_TEXT.split("@data")[0] + "@data\n"),
        (".ts", TS_TEXT.replace("1,2,3,4:", "1,inf,3,4:")),
        (".ts", TS_TEXT.replace("@dimensions 2", "@dimensions 0")),
        (".ts", TS_TEXT.replace("@seriesLength 4", "@seriesLength -1")),
        (".csv", "a,b,c\nd,e,f\n"),
        (".csv", "1,inf,2\n3,4,5\n"),
        (".csv", "1,2,3\n4,5\n"),
        (".csv", ""),
        (".csv", "\n\n"),
    ],
)
def test_series_text_files_with_absurd_content(folder, suffix, text):
    path = folder / f"text{suffix}"
    path.write_text(text)
    check_series(path)


# -------------------------------------------------------------------------------------- the arrays

dtypes = st.one_of(hnp.floating_dtypes(), hnp.integer_dtypes(), hnp.complex_number_dtypes(), hnp.boolean_dtypes())


@st.composite
def arrays(draw):
    dtype = draw(dtypes)
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5))
    return draw(hnp.arrays(dtype, shape))


@fuzz
@given(x=arrays(), rate=st.sampled_from([-1, 0, 1, 8000, 44100, 2**31 - 1, 2**40]))
def test_save_audio_writes_what_load_audio_reads_or_refuses(folder, x, rate):
    path = folder / "saved.wav"
    path.unlink(missing_ok=True)
    try:
        save_audio(path, x, rate)
    except ValueError as err:  # InputFileError for the samples and the file, ValueError for the shape
        assert "\n" not in str(err)
        assert not path.exists()
        assert not list(folder.glob(".saved.*")), "a temporary file was left behind"
        return
    y, read_rate = load_audio(path, mono=False)
    assert read_rate == rate and y.shape[-1] == x.shape[-1]


@fuzz
@given(x=st.one_of(arrays(), st.lists(arrays(), max_size=4)))
def test_as_series_list_gives_valid_series_or_a_value_error(x):
    try:
        series = as_series_list(x)
    except ValueError as err:
        assert "\n" not in str(err)
    else:
        assert_valid_series(series)


# ------------------------------------------------------------------------------- the command line


def random_bytes(n: int) -> bytes:
    return np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8).tobytes()


CLI_CASES = {
    "enhance: random bytes": ("enhance", ".wav", random_bytes(300)),
    "enhance: header only": ("enhance", ".wav", REAL[".wav"][:44]),
    "enhance: rate 2**31 - 1": ("enhance", ".wav", wav_bytes(rate=2**31 - 1)),
    "enhance: zero channels": ("enhance", ".wav", wav_bytes(channels=0)),
    "separate: FLAC cut short": ("separate", ".flac", REAL[".flac"][:200]),
    "separate: rate of 1 Hz": ("separate", ".wav", wav_bytes(rate=1)),
    "tokenize: EDF cut short": ("tokenize", ".edf", REAL[".edf"][:300]),
    "tokenize: negative record duration": ("tokenize", ".edf", edf_bytes(duration=-1)),
    "tokenize: zero signals": ("tokenize", ".bdf", edf_bytes(n_signals=0, bdf=True)),
    "classify: random bytes": ("classify", ".npy", random_bytes(200)),
    "classify: header that lies": ("classify", ".npy", REAL[".npy"][:100]),
    "classify: ts without data": ("classify", ".ts", (TS_TEXT.split("@data")[0] + "@data\n").encode()),
}


@pytest.mark.parametrize("command, suffix, content", list(CLI_CASES.values()), ids=list(CLI_CASES))
def test_cli_refuses_bad_files_with_one_line_and_writes_nothing(
    tmp_path, capsys, tiny_models, command, suffix, content
):
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(content)
    out = tmp_path / "out"
    if command == "classify":
        args = [command, tiny_models[command], str(path), "-o", str(out / "labels.csv")]
        out.mkdir()
    else:
        option = "--tokenizer" if command == "tokenize" else "--model"
        args = [command, str(path), "-o", str(out), option, tiny_models[command]]
    code = main(args)
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert code == 2 and len(err) == 1 and str(path) in err[0] and "Traceback" not in captured.err, err
    assert captured.out == ""
    left = sorted(p.name for p in out.iterdir()) if command == "classify" else out.exists()
    assert not left, f"an output was left behind: {left}"
