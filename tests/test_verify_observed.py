"""``einlint --verify`` with observations: cases at the shapes, dtype and layout ``einlint observe``
recorded run beside the synthetic ones, under the same budgets, and every report format says which
timings were at observed shapes. The observations file is written by hand here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from einlint.observe.sites import statement_hash

pytest.importorskip("torch")

MODEL = """\
import torch


def scores(q, k):
    s = q.permute(0, 2, 1, 3) @ k
    return s
"""
STATEMENT = "    s = q.permute(0, 2, 1, 3) @ k"
# The fix: torch.einsum('bqhd,bhdk->bhqk', q, k); q is (b, q, h, d), k is (b, h, d, k).
SMALL = ([2, 5, 3, 4], [2, 3, 4, 6])
HUGE = ([4096, 512, 8, 64], [4096, 8, 64, 512])  # 2^30 elements each: far over any budget


@pytest.fixture(autouse=True)
def quick_verification(monkeypatch: pytest.MonkeyPatch) -> None:
    from einlint.verify import command

    monkeypatch.setattr(command, "CLI_PROFILES", ("tiny",))
    monkeypatch.setattr(command, "CLI_MIN_RUN_TIME", 0.001)
    monkeypatch.setattr(command, "_width", lambda: 400)  # a table wide enough that no cell folds


def _facts(shapes: list[list[int]], dtype: str, contiguous: bool) -> dict:
    count = 2
    return {
        "reads": count, "classes": {"torch.Tensor": count}, "ranks": {"4": count}, "dtypes": {dtype: count},
        "devices": {"cpu": count}, "contiguous": {"true" if contiguous else "false": count}, "shapes": shapes,
    }  # fmt: skip


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "attention.py").write_text(MODEL, encoding="utf-8")
    return tmp_path


def observe(project: Path, q_shapes: list, k_shapes: list, dtype: str = "torch.float64", contiguous: bool = True) -> None:
    site = {
        "path": "model/attention.py", "line": 5, "hash": statement_hash([STATEMENT]), "executions": 2,
        "operands": {"q": _facts(q_shapes, dtype, contiguous), "k": _facts(k_shapes, dtype, contiguous)},
    }  # fmt: skip
    (project / ".einlint").mkdir(exist_ok=True)
    (project / ".einlint" / "observations.json").write_text(json.dumps({"einlint-observations": 1, "sites": [site]}), encoding="utf-8")


def verify_json(einlint) -> dict:
    run = einlint("--verify", "--device", "cpu", "--no-cache", "--format", "json", "model")
    assert run.exit_code == 0, run.err
    (fix,) = json.loads(run.out)["fixes"]
    assert fix["verdict"] == "equivalent", fix["reason"]
    return fix


def test_observed_shapes_and_dtype_are_verified_and_timed(project: Path, einlint) -> None:
    # Two shapes seen of each operand: only the pairs the original accepts are tried.
    observe(project, [SMALL[0], [3, 7, 3, 4]], [SMALL[1], [3, 3, 4, 2]])
    fix = verify_json(einlint)
    observed_cases = [case for case in fix["cases"] if case["case"].startswith("observed")]
    assert {case["case"] for case in observed_cases} == {"observed/1", "observed/2"}
    assert {case["dtype"] for case in observed_cases} == {"float64"}
    assert all(case["status"] == "match" for case in observed_cases)
    observed_timings = [timing for timing in fix["timings"] if timing["observed"]]
    assert sorted(timing["shapes"] for timing in observed_timings) == sorted([list(SMALL), [[3, 7, 3, 4], [3, 3, 4, 2]]])
    assert {timing["dtype"] for timing in observed_timings} == {"float64"}
    synthetic = [timing for timing in fix["timings"] if not timing["observed"]]
    assert [timing["case"] for timing in synthetic] == ["tiny"]


def test_the_table_and_the_markdown_report_mark_observed_timings(project: Path, einlint) -> None:
    observe(project, [SMALL[0]], [SMALL[1]], contiguous=False)
    run = einlint("--verify", "--device", "cpu", "--no-cache", "--verify-report", "report.md", "model")
    assert run.exit_code == 0, run.err
    assert "observed/non-contiguous (2x5x3x4 2x3x4x6)" in run.out
    assert "1 timed at observed shapes" in run.out
    report = (project / "report.md").read_text(encoding="utf-8")
    assert "observed/non-contiguous (at observed shapes) | 2x5x3x4 2x3x4x6 |" in report
    assert "| tiny | 2x4x3x5 2x3x5x6 |" in report  # a synthetic row stays unmarked


def test_an_observed_shape_over_budget_is_skipped_and_the_report_says_so(project: Path, einlint) -> None:
    observe(project, [HUGE[0]], [HUGE[1]])
    fix = verify_json(einlint)
    assert not [timing for timing in fix["timings"] if timing["observed"]]
    assert not [case for case in fix["cases"] if case["case"].startswith("observed")]
    (note,) = [note for note in fix["notes"] if note.startswith("observed")]
    assert note.startswith("observed shapes 4096x512x8x64, 4096x8x64x512 not tried, over budget: a tensor of")
    run = einlint("--verify", "--device", "cpu", "model")
    assert "observed shapes 4096x512x8x64, 4096x8x64x512 not tried, over budget" in run.out
    assert "timed at observed shapes" not in run.out


def test_without_observations_only_synthetic_shapes_run(project: Path, einlint) -> None:
    fix = verify_json(einlint)
    assert fix["timings"] and not [timing for timing in fix["timings"] if timing["observed"]]
    assert not [case for case in fix["cases"] if case["case"].startswith("observed")]


def test_an_edited_statement_gets_no_observed_cases(project: Path, einlint) -> None:
    observe(project, [SMALL[0]], [SMALL[1]])
    path = project / "model" / "attention.py"
    path.write_text(MODEL.replace("@ k", "@ k  # edited"), encoding="utf-8")
    fix = verify_json(einlint)
    assert not [timing for timing in fix["timings"] if timing["observed"]]
