"""The README's Python snippets run as written (in a scratch folder, on the shipped weights)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
# SeriesClassifier's snippet trains for 100 epochs on JapaneseVowels (aeon ships it, so it runs
# offline as written), about 40 minutes on 2 cores: too long for the test suite.
SLOW = ("load_classification",)


@pytest.mark.parametrize("block", [b for b in BLOCKS if not any(s in b for s in SLOW)], ids=lambda b: b.split("\n")[0])
def test_snippet_runs_as_written(block, tmp_path, monkeypatch, capsys):
    pytest.importorskip("mne")
    monkeypatch.chdir(tmp_path)
    exec(compile(block, str(README), "exec"), {"__name__": "__readme__"})
    printed = capsys.readouterr().out
    assert printed.strip(), "the snippet prints its result"
    if "cross_val_score" in block:  # alpha bursts against none: the tokens tell them apart
        scores = [float(v) for v in re.findall(r"\d\.\d+|\b[01]\.", printed)]
        assert scores and sum(scores) / len(scores) >= 0.75, printed


def test_the_readme_has_snippets():
    assert len(BLOCKS) >= 2
