"""Series files and padding: what tfsignal classify reads, and its errors."""

import numpy as np
import pytest

from tfsignal.series import SeriesFileError, Standardiser, as_series_list, pad, read_series_file


def test_pad_marks_padding_and_missing_values():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([[1.0, np.nan, 3.0, 4.0, 5.0]], dtype=np.float32).repeat(2, 0)
    X, mask = pad([a, b])
    assert X.shape == (2, 5, 2)
    assert mask.tolist() == [[False, False, False, True, True], [False, True, False, False, False]]
    assert X[1, 1].tolist() == [0.0, 0.0]
    np.testing.assert_array_equal(X[0, :3], a.T)
    with pytest.raises(ValueError, match="more than the 4"):
        pad([b], 4)


def test_standardiser_ignores_padding():
    X, mask = pad([np.array([[1.0, 3.0]], dtype=np.float32), np.array([[5.0, 7.0, 9.0]], dtype=np.float32)])
    std = Standardiser().fit(X, mask)
    assert std.mean.tolist() == [5.0]
    assert (std.transform(X, mask)[mask] == 0).all()


def test_as_series_list_refuses_mixed_channel_counts():
    with pytest.raises(ValueError, match="number of channels"):
        as_series_list([np.zeros((2, 5)), np.zeros((3, 5))])


def test_reads_csv_npy_and_ts(tmp_path):
    (tmp_path / "a.csv").write_text("1,2,3,4\n5,6,7,8\n")
    series, labels = read_series_file(tmp_path / "a.csv")
    assert len(series) == 2 and series[0].shape == (1, 4) and labels is None
    np.save(tmp_path / "b.npy", np.zeros((3, 2, 7)))
    series, _ = read_series_file(tmp_path / "b.npy")
    assert len(series) == 3 and series[0].shape == (2, 7)
    (tmp_path / "c.ts").write_text(
        "@problemName c\n@timeStamps false\n@missing false\n@univariate false\n@dimensions 2\n"
        "@equalLength false\n@classLabel true up down\n@data\n"
        "1,2,3:4,5,6:up\n1,2:3,4:down\n"
    )
    series, labels = read_series_file(tmp_path / "c.ts")
    assert [s.shape for s in series] == [(2, 3), (2, 2)]
    assert labels.tolist() == ["up", "down"]


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.npy", None, "no such file"),
        ("x.txt", "1,2", "unsupported extension"),
        ("bad.npy", "junk", "not a readable"),
    ],
)
def test_bad_files_give_one_line_errors(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(SeriesFileError, match=message) as info:
        read_series_file(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "X, error, message",
    [
        (np.zeros(5), ValueError, "Reshape your data"),
        (np.zeros((3, 0)), ValueError, r"0 feature\(s\)"),
        (np.zeros((0, 4)), ValueError, r"0 sample\(s\)"),
        (np.full((2, 4), np.inf), ValueError, "infinity"),
        (np.full((2, 4), np.nan), ValueError, "only NaN"),
        (np.ones((2, 4), dtype=complex), ValueError, "Complex data not supported"),
    ],
)
def test_as_series_list_refuses_what_cannot_be_a_series(X, error, message):
    with pytest.raises(error, match=message):
        as_series_list(X)


def test_as_series_list_refuses_sparse_and_keeps_missing_steps():
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="sparse input is not supported"):
        as_series_list(sparse.csr_array(np.eye(3)))
    series = as_series_list([[1.0, np.nan, 3.0]])
    assert np.isnan(series[0][0, 1]) and series[0].shape == (1, 3)
