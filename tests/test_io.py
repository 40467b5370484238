import os
import stat

import numpy as np
import pytest
import soundfile as sf

from tfsignal.frontends import resample
from tfsignal.io import InputFileError, load_audio, save_audio


def _tone(freq, rate, seconds=1.0, channels=1):
    t = np.arange(int(rate * seconds)) / rate
    x = 0.5 * np.sin(2 * np.pi * freq * t)
    return np.stack([x * (c + 1) / channels for c in range(channels)], axis=1).astype(np.float32)


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_bit_depths_load_as_float32(tmp_path, subtype):
    path = tmp_path / "tone.wav"
    sf.write(path, _tone(440, 16000), 16000, subtype=subtype)
    x, rate = load_audio(path)
    assert x.dtype == np.float32 and rate == 16000 and x.shape == (16000,)
    assert np.abs(x - _tone(440, 16000)[:, 0]).max() < (1e-2 if subtype == "PCM_U8" else 1e-4)


def test_real_speech_fixture(data_dir):
    x, rate = load_audio(data_dir / "speech_lj.flac")
    assert rate == 16000 and x.shape == (64000,) and 0.1 < np.abs(x).max() <= 1.0


def test_multichannel_mono_and_resampling(tmp_path):
    path = tmp_path / "stereo.flac"
    sf.write(path, _tone(1000, 44100, channels=2), 44100)
    x, rate = load_audio(path, mono=False)
    assert x.shape == (2, 44100) and rate == 44100
    mono, _ = load_audio(path)
    assert np.allclose(mono, x.mean(0), atol=1e-6)
    y, rate = load_audio(path, sr=16000)
    assert rate == 16000 and y.shape == (16000,)
    spectrum = np.abs(np.fft.rfft(y[1000:-1000] * np.hanning(14000)))
    assert abs(np.argmax(spectrum) * 16000 / 14000 - 1000) < 2  # the tone stays at 1 kHz
    assert abs(np.abs(y[2000:-2000]).max() - 0.375) < 0.01  # and keeps its level


def test_resampler_rejects_aliases():
    # 10 kHz at 44.1 kHz lies above the new Nyquist (8 kHz): it must vanish, not fold to 6 kHz
    tone = _tone(10000, 44100)[:, 0].astype(np.float64)
    y = resample(tone, 44100, 16000)
    assert np.sqrt(np.mean(y[500:-500] ** 2)) < 1e-4 * np.sqrt(np.mean(tone**2))
    # a 7 kHz tone (inside the passband) passes at full level
    y = resample(_tone(7000, 48000)[:, 0], 48000, 16000)
    assert abs(np.sqrt(np.mean(y[500:-500] ** 2)) / np.sqrt(0.125) - 1) < 0.02


def test_resampler_takes_fractional_rates():
    # 250.5 Hz -> 100 Hz: the ratio is approximated by a fraction; a 10 Hz tone stays at 10 Hz and at its level
    t = np.arange(5010) / 250.5
    y = resample(np.sin(2 * np.pi * 10 * t), 250.5, 100.0)
    assert abs(len(y) - 2000) <= 2
    spectrum = np.abs(np.fft.rfft(y[100:-100] * np.hanning(len(y) - 200)))
    assert abs(np.argmax(spectrum) * 100 / (len(y) - 200) - 10) < 0.1
    assert abs(np.sqrt(np.mean(y[100:-100] ** 2)) / np.sqrt(0.5) - 1) < 0.02
    x = np.ones(10)
    assert resample(x, 250.0, 250.0) is x and resample(x, 100.0, 100) is x  # equal rates: untouched
    with pytest.raises(ValueError, match="positive"):
        resample(x, 0.0, 100.0)


def test_save_npz_is_atomic(tmp_path):
    from tfsignal.io import save_npz

    path = save_npz(tmp_path / "tokens.npz", a=np.arange(3), b=np.float64(2.5))
    with np.load(path) as saved:
        assert saved["a"].tolist() == [0, 1, 2] and float(saved["b"]) == 2.5
    save_npz(tmp_path / "cache", a=np.zeros(1))  # written to the name given, no suffix added
    assert (tmp_path / "cache").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["cache", "tokens.npz"]


def test_save_is_atomic_and_refuses_to_overwrite(tmp_path):
    path = tmp_path / "out.wav"
    x = _tone(300, 16000)[:, 0]
    save_audio(path, x, 16000)
    assert np.abs(load_audio(path)[0] - x).max() < 1e-4
    before = path.read_bytes()
    with pytest.raises(InputFileError, match="already exists"):
        save_audio(path, -x, 16000)
    assert path.read_bytes() == before
    save_audio(path, -x, 16000, overwrite=True)
    assert path.read_bytes() != before
    assert sorted(os.listdir(tmp_path)) == ["out.wav"]  # no temporary file left behind
    with pytest.raises(InputFileError, match="NaN"):
        save_audio(tmp_path / "nan.wav", np.array([0.0, np.nan]), 16000)
    assert sorted(os.listdir(tmp_path)) == ["out.wav"]
    save_audio(tmp_path / "stereo.flac", np.stack([x, -x]), 16000)
    assert load_audio(tmp_path / "stereo.flac", mono=False)[0].shape == (2, 16000)


def _one_line(err):
    message = str(err.value)
    assert "\n" not in message
    return message


def test_bad_inputs_give_one_line_errors(tmp_path):
    cases = {}
    cases["missing"] = (tmp_path / "missing.wav", "no such file")
    cases["dir"] = (tmp_path, "is a directory")
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n" * 20)
    cases["text"] = (text, "not a readable audio file")
    truncated = tmp_path / "truncated.wav"
    sf.write(truncated, _tone(300, 16000), 16000)
    truncated.write_bytes(truncated.read_bytes()[:30])
    cases["corrupt"] = (truncated, "not a readable audio file")
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 1), np.float32), 16000)
    cases["empty"] = (empty, "zero samples")
    nan = tmp_path / "nan.wav"
    bad = _tone(300, 16000)
    bad[100] = np.nan
    bad[200] = np.inf
    sf.write(nan, bad, 16000, subtype="FLOAT")
    cases["nan"] = (nan, "NaN or Inf")
    for path, problem in cases.values():
        with pytest.raises(InputFileError) as err:
            load_audio(path)
        message = _one_line(err)
        assert message.startswith(str(path)) and problem in message


@pytest.mark.parametrize("subtype, channels", [("PCM_16", 1), ("PCM_24", 2), ("FLOAT", 3)])
def test_a_wav_cut_short_is_read_with_a_warning_that_says_how_much_is_missing(tmp_path, subtype, channels):
    """libsndfile reads what a cut-short WAV holds without a word; the header's data size tells."""
    import warnings

    from tfsignal.io import AudioReader

    full = tmp_path / "full.wav"
    sf.write(full, _tone(440, 16000, seconds=2.0, channels=channels), 16000, subtype=subtype)
    data = full.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 4 + 1])  # an odd byte count: a part frame at the end
    unknown = tmp_path / "stream.wav"  # what a writer on a pipe leaves: data size 0xFFFFFFFF
    at = data.index(b"data") + 4
    unknown.write_bytes(data[:at] + b"\xff" * 4 + data[at + 4 :])
    for path, promised in [(full, None), (unknown, None), (cut, 2.0)]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            x, _ = load_audio(path)
            with AudioReader(path) as reader:
                assert reader.frames == x.shape[-1]
        messages = [str(w.message) for w in caught]
        if promised is None:
            assert messages == [] and x.shape[-1] == 32000
        else:
            held = x.shape[-1] / 16000
            assert 0.45 < held < 0.5
            assert (
                messages
                == [
                    f"{path}: its header promises 2 s but the file holds {held:.4g} s "
                    "(cut short while copying or recording?); reading what is there"
                ]
                * 2
            )


def test_saved_files_follow_the_umask_not_mkstemps_private_mode(tmp_path):
    old = os.umask(0o022)
    try:
        path = save_audio(tmp_path / "public.wav", np.zeros(160, dtype=np.float32), 16000)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


@pytest.mark.parametrize("rates", [(44100, 16000), (48000, 16000), (8000, 16000), (16000, 22050), (16000, 16000)])
def test_resample_span_reads_a_window_and_matches_the_whole_signal(rates):
    from tfsignal.frontends.resample import resample_span, resampled_length

    x = np.random.default_rng(0).standard_normal((2, 30011)).astype(np.float32)
    whole = resample(x, *rates)
    m = resampled_length(x.shape[-1], *rates)
    assert whole.shape[-1] == m
    reads = []

    def read(i0, i1):
        reads.append(i1 - i0)
        return x[:, i0:i1]

    cuts = [0, 1, 977, 5000, 5001, m // 2, m - 3, m]
    pieces = [resample_span(read, x.shape[-1], *rates, a, b) for a, b in zip(cuts[:-1], cuts[1:])]
    np.testing.assert_array_equal(np.concatenate(pieces, axis=-1), whole)  # same samples, not just close
    assert max(reads) < x.shape[-1] // 2 + 1000  # each span read only its neighbourhood
    with pytest.raises(ValueError, match="outside"):
        resample_span(read, x.shape[-1], *rates, 0, m + 1)


def test_audio_reader_and_streaming_writer(tmp_path):
    from tfsignal.io import AudioReader, audio_writer

    x = np.random.default_rng(1).uniform(-0.5, 0.5, (2, 4000)).astype(np.float32)
    out = tmp_path / "out.flac"
    with audio_writer(out, 8000, 2, subtype="PCM_24") as write:
        write(x[:, :1500])
        assert not out.exists()  # published only when complete
        write(x[:, 1500:])
    with AudioReader(out) as reader:
        assert (reader.rate, reader.channels, reader.frames) == (8000, 2, 4000)
        np.testing.assert_allclose(reader.read(1000, 3000), x[:, 1000:3000], atol=1e-6)
        with pytest.raises(InputFileError, match="ends at sample 4000"):
            reader.read(3000, 5000)
    with pytest.raises(InputFileError, match="NaN"), audio_writer(out, 8000, 2, overwrite=True) as write:
        write(x)
        write(np.full((2, 10), np.nan, np.float32))
    np.testing.assert_allclose(sf.read(out, always_2d=True)[0].T, x, atol=1e-6)  # the old file survives
    assert [p.name for p in tmp_path.iterdir()] == ["out.flac"]  # no temporary left behind
    with pytest.raises(InputFileError, match="already exists"):
        audio_writer(out, 8000, 2).__enter__()
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 1)), 8000)
    with pytest.raises(InputFileError, match="zero samples"):
        AudioReader(empty)
