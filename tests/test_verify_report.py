"""The verifier's reports from known verdicts (no torch needed): the rich table, JSON, Markdown, the
chart note, and the faster/slower/same labels against the measured noise."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from einlint.verify.report import render_table, summary, to_json, write_markdown
from einlint.verify.timing import Comparison, Measurement, ShapeTiming, overall_label
from einlint.verify.verifier import EQUIVALENT, NOT_EQUIVALENT, NOT_VERIFIABLE, FixVerification, PairVerdict


def _comparison(original_us: float, rewritten_us: float, spread: float = 0.01) -> Comparison:
    def measure(us: float) -> Measurement:
        return Measurement(us * 1e-6, us * 1e-6 * spread, 20)

    return Comparison(measure(original_us), measure(rewritten_us), paired_spread=spread)


def _timing(case: str, original_us: float, rewritten_us: float) -> ShapeTiming:
    comparison = _comparison(original_us, rewritten_us)
    return ShapeTiming(case, ((2, 3), (3, 4)), "float32", comparison, comparison)


def _fix(line: int, verdict: str, reason: str = "", timings: tuple[ShapeTiming, ...] = ()) -> FixVerification:
    result = PairVerdict(
        verdict, reason, "(x.unsqueeze(-1) * y.unsqueeze(-2)).sum(0)", "torch.einsum('di,dj->ij', x, y)",
        max_error=3e-7 if verdict == EQUIVALENT else None, grad_error=1e-7 if verdict == EQUIVALENT else None,
        contiguous=(True, True) if verdict == EQUIVALENT else None, timings=timings,
        speed=overall_label(timings), device="cpu (test)", torch_version="2.x",
    )  # fmt: skip
    return FixVerification("model.py", line, 9, "EIN111", "safe", (), (("a", "b"),), result)


FIXES = [
    _fix(3, EQUIVALENT, timings=(_timing("tiny", 10, 20), _timing("medium", 400, 40))),
    _fix(7, NOT_EQUIVALENT, "tiny, float32: shape (3, 2) instead of (2, 3)"),
    _fix(9, NOT_VERIFIABLE, "the call of 'os.system' is not in the allowlist"),
]


@pytest.mark.parametrize(
    ("original_us", "rewritten_us", "spread", "label"),
    [(100, 50, 0.01, "faster"), (50, 100, 0.01, "slower"), (100, 98, 0.01, "same"), (100, 80, 0.30, "unstable")],
)
def test_faster_and_slower_only_beyond_the_noise(original_us: float, rewritten_us: float, spread: float, label: str) -> None:
    assert _comparison(original_us, rewritten_us, spread).label == label


def test_overall_speed_is_slower_when_any_shape_is_slower() -> None:
    assert overall_label([_timing("tiny", 10, 20), _timing("large", 400, 40)]) == "slower"
    assert overall_label([_timing("tiny", 10, 10), _timing("large", 400, 40)]) == "faster"
    assert overall_label([]) is None


def test_table() -> None:
    table = render_table(FIXES, width=200)
    for expected in ("model.py:3:9", "EIN111", "equivalent", "not equivalent", "shape (3, 2) instead of (2, 3)",
                     "not verifiable", "os.system", "3.0e-07", "tiny 0.50x slower", "medium 10.00x faster", "cpu (test)"):  # fmt: skip
        assert expected in table
    assert summary(FIXES) == "Verified 3 fixes on cpu (test): 1 equivalent, 1 not equivalent, 1 not verifiable."


def test_json() -> None:
    document = json.loads(to_json(FIXES, fixed=1))
    assert document["fixed"] == 1
    first = document["fixes"][0]
    assert (first["path"], first["line"], first["verdict"], first["speed"]) == ("model.py", 3, "equivalent", "slower")
    assert first["timings"][1]["forward"]["ratio"] == pytest.approx(10.0)


def test_markdown_report_notes_a_missing_matplotlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    notes = write_markdown(FIXES, tmp_path / "report.md")
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert notes == ["The speedup chart was skipped: matplotlib is not installed (pip install matplotlib)."]
    assert "> The speedup chart was skipped" in report and not (tmp_path / "report.png").exists()
    assert "| model.py:3:9 | EIN111 | equivalent | 3.0e-07 | medium | 2x3 3x4 | 400.0 us | 40.0 us | 10.00x (faster, noise 3%) |" in report
    assert "### model.py:7:9 EIN111 - not equivalent" in report


def test_markdown_report_with_a_chart(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    assert write_markdown(FIXES, tmp_path / "report.md") == []
    assert (tmp_path / "report.png").stat().st_size > 0


def test_the_median_interval_narrows_with_more_pairs() -> None:
    from einlint.verify.timing import median_interval

    assert median_interval([1.0, 2.0, 3.0, 4.0, 5.0]) == (1.0, 5.0)  # five pairs: the whole range
    values = [1.0 + index / 100 for index in range(100)]
    low, high = median_interval(values)
    assert 1.35 <= low < 1.5 < high <= 1.65


def test_an_unsettled_ratio_is_unstable_and_not_shown_as_a_figure(tmp_path: Path) -> None:
    # Same-kernel rewrites under load once showed "915.66x faster": a wide interval is no figure.
    noisy = Comparison(Measurement(1e-3, 1e-4, 60), Measurement(1e-6, 1e-7, 60), 2.0, 915.66, (0.9, 2000.0))
    settled = Comparison(Measurement(1e-3, 1e-5, 20), Measurement(5e-4, 1e-5, 20), 0.01, 2.0, (1.95, 2.05))
    assert (noisy.stable, noisy.label) == (False, "unstable")
    assert (settled.stable, settled.label) == (True, "faster")
    assert noisy.to_dict()["ratio"] is None and settled.to_dict()["ratio"] == pytest.approx(2.0)
    timing = ShapeTiming("large", ((2, 3),), "float32", noisy, settled)
    assert overall_label([timing]) == "unstable"
    fix = _fix(5, EQUIVALENT, timings=(timing,))
    table = render_table([fix], width=250)
    assert "915" not in table and "large unstable" in table and "large 2.00x faster" in table
    write_markdown([fix], tmp_path / "report.md")
    assert "915" not in (tmp_path / "report.md").read_text(encoding="utf-8")
    assert Comparison.from_dict(noisy.to_dict()) == noisy
