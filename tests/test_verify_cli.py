"""``einlint --verify``: the table, JSON, the Markdown report, exit codes, and ``--fix --verify`` applying
only what was verified, within the fix tier the user chose."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import libcst as cst
import pytest

from conftest import REPOSITORY_ROOT
from einlint.diagnostics import Applicability
from einlint.rules.base import FixProposal, Rule, Triggers, VerificationTarget

pytest.importorskip("torch")

SAMPLE = """\
import torch


def attention(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    return torch.matmul(q.transpose(-2, -3), k)


def scores():
    a = torch.randn(3, 2, 4)
    b = torch.randn(2, 4, 5)
    return torch.bmm(a.transpose(0, 1), b).contiguous()
"""
WRONG_SAMPLE = SAMPLE + '\n\ndef flip(x):\n    return torch.einsum("ab->ba", x)\n'


class WrongTranspose(Rule):
    """Test-only: rewrites ``torch.einsum("ab->ba", x)`` into ``torch.einsum("ab->ab", x)`` - wrong, and
    offered as a safe fix, so that only the verifier stands between it and the file."""

    code = "EIN992"
    name = "test-only-wrong-transpose"
    triggers = Triggers(names=frozenset({"einsum"}))

    def visit_Call(self, node: cst.Call) -> None:
        if self.context.qualified_name(node.func) != "torch.einsum" or len(node.args) != 2:
            return
        equation = node.args[0].value
        if isinstance(equation, cst.SimpleString) and equation.evaluated_value == "ab->ba":
            operand = self.context.unit.code_for(node.args[1].value)
            target = VerificationTarget("the einsum call", node)
            self.report(node, "wrong on purpose", FixProposal(node, f'torch.einsum("ab->ab", {operand})', Applicability.SAFE, target=target))


@pytest.fixture(autouse=True)
def quick_verification(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's shapes and timing budget, cut down: these tests check wiring, never speed."""
    from einlint.verify import command

    monkeypatch.setattr(command, "CLI_PROFILES", ("tiny",))
    monkeypatch.setattr(command, "CLI_MIN_RUN_TIME", 0.001)


@pytest.fixture
def sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "sample.py"
    path.write_text(SAMPLE, encoding="utf-8")
    return path


def test_verify_prints_a_table_and_exits_0_when_every_fix_is_equivalent(sample: Path, einlint) -> None:
    run = einlint("--verify", "--device", "cpu", "sample.py")
    assert run.exit_code == 0, run.err
    assert "einlint --verify" in run.out
    for expected in ("sample.py:5:12", "sample.py:11:12", "EIN101", "equivalent", "unsafe", "cpu", "tiny"):
        assert expected in run.out
    assert "Verified 2 fixes on cpu" in run.out and "2 equivalent" in run.out


def test_verify_exits_1_when_a_fix_is_not_equivalent(sample: Path, einlint, add_rule) -> None:
    add_rule(WrongTranspose)
    sample.write_text(WRONG_SAMPLE, encoding="utf-8")
    run = einlint("--verify", "--device", "cpu", "sample.py")
    assert run.exit_code == 1
    assert "not equivalent" in run.out and "EIN992" in run.out
    assert "1 not equivalent" in run.out


def test_verify_json_gives_the_same_data(sample: Path, einlint) -> None:
    run = einlint("--verify", "--format", "json", "sample.py")
    assert run.exit_code == 0, run.err
    document = json.loads(run.out)
    fixes = document["fixes"]
    assert [(fix["line"], fix["code"], fix["verdict"]) for fix in fixes] == [(5, "EIN101", "equivalent"), (11, "EIN101", "equivalent")]
    first = fixes[0]
    assert first["applicability"] == "unsafe" and "operand-ranks" in first["assumptions"]
    assert first["rewritten"] == "torch.einsum('...qbd,...bdk->...bqk', q, k)"
    assert first["max_error"] is not None and first["contiguous"] == {"original": True, "rewritten": True}
    assert [timing["case"] for timing in first["timings"]] == ["tiny"]
    assert {"ratio", "label", "noise"} <= set(first["timings"][0]["forward"])
    assert document["summary"] == {"equivalent": 2, "not equivalent": 0, "equivalent without autocast": 0, "not verifiable": 0}


def test_fix_verify_applies_only_verified_fixes(sample: Path, einlint, add_rule) -> None:
    add_rule(WrongTranspose)
    sample.write_text(WRONG_SAMPLE, encoding="utf-8")
    run = einlint("--fix", "--verify", "--device", "cpu", "sample.py")
    text = sample.read_text(encoding="utf-8")
    assert 'torch.einsum("ibd,bdj->bij", a, b)' in text  # safe and verified: applied (in the file's quotes)
    assert 'torch.einsum("ab->ba", x)' in text  # safe but wrong: left alone
    assert "torch.matmul(q.transpose(-2, -3), k)" in text  # verified, but unsafe: verification does not upgrade it
    assert run.exit_code == 1
    assert "Applied 1 verified fix;" in run.out


def test_fix_verify_with_unsafe_fixes_applies_verified_unsafe_fixes(sample: Path, einlint) -> None:
    run = einlint("--fix", "--unsafe-fixes", "--verify", "sample.py")
    text = sample.read_text(encoding="utf-8")
    assert "torch.einsum('...qbd,...bdk->...bqk', q, k)" in text and "torch.einsum('ibd,bdj->bij', a, b)" in text
    assert run.exit_code == 0, run.out + run.err


def test_diff_verify_writes_nothing(sample: Path, einlint, add_rule) -> None:
    add_rule(WrongTranspose)
    sample.write_text(WRONG_SAMPLE, encoding="utf-8")
    run = einlint("--diff", "--verify", "sample.py")
    assert sample.read_text(encoding="utf-8") == WRONG_SAMPLE
    assert '+    return torch.einsum("ibd,bdj->bij", a, b)' in run.out
    assert "ab->ab" not in run.out
    assert "einlint --verify" in run.err  # the table goes to stderr, the diff alone to stdout


def test_verify_report_writes_markdown(sample: Path, einlint) -> None:
    run = einlint("--verify-report", "report.md", "sample.py")
    assert run.exit_code == 0, run.err
    report = Path("report.md").read_text(encoding="utf-8")
    assert report.startswith("# einlint --verify report")
    assert "| sample.py:5:12 | EIN101 | equivalent |" in report
    assert "`torch.einsum('...qbd,...bdk->...bqk', q, k)`" in report
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "matplotlib is not installed" in run.err and "matplotlib is not installed" in report
        assert not Path("report.png").exists()
    else:
        assert Path("report.png").stat().st_size > 0 and "![speedups" in report


def test_no_fixes_means_nothing_to_verify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, einlint) -> None:
    monkeypatch.chdir(tmp_path)
    Path("clean.py").write_text("import torch\ny = torch.einsum('ij,jk->ik', a, b)\n", encoding="utf-8")
    run = einlint("--verify", "clean.py")
    assert run.exit_code == 0 and "No fixes to verify." in run.out


def test_options_that_need_verify(sample: Path, einlint) -> None:
    run = einlint("--device", "cpu", "sample.py")
    assert run.exit_code == 2 and "--device applies to --verify" in run.err
    run = einlint("--verify", "--format", "sarif", "sample.py")
    assert run.exit_code == 2 and "--verify prints a table" in run.err


def test_only_faster_keeps_fixes_that_are_not_slower() -> None:
    from einlint.verify.approval import ApprovedFixes
    from einlint.verify.verifier import EQUIVALENT, NOT_EQUIVALENT, FixVerification, PairVerdict

    def item(line: int, verdict: str, speed: str | None) -> FixVerification:
        return FixVerification("f.py", line, 1, "EIN101", "safe", (), ((f"old{line}", "new"),), PairVerdict(verdict, "", "", "", speed=speed))

    items = [item(1, EQUIVALENT, "faster"), item(2, EQUIVALENT, "same"), item(3, EQUIVALENT, "slower"), item(4, NOT_EQUIVALENT, None)]
    lines = lambda approved: sorted(int(edits[0][0].removeprefix("old")) for _, edits in approved.keys)  # noqa: E731
    assert lines(ApprovedFixes.from_verifications(items)) == [1, 2, 3]
    assert lines(ApprovedFixes.from_verifications(items, only_faster=True)) == [1, 2]


def test_missing_torch_is_one_line(sample: Path, einlint, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    run = einlint("--verify", "sample.py")
    assert run.exit_code == 2
    assert run.err.strip().splitlines() == ["einlint: error: the verifier needs torch, which is not installed (install einlint[verify])"]


def test_cuda_requested_without_cuda(sample: Path, einlint) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    run = einlint("--verify", "--device", "cuda", "sample.py")
    assert run.exit_code == 2 and "--device cuda" in run.err


def test_the_verifier_package_imports_torch_only_when_it_runs() -> None:
    script = (
        "import sys\n"
        "import einlint.verify, einlint.verify.command, einlint.verify.verifier, einlint.verify.report\n"
        "import einlint.verify.approval, einlint.verify.cache, einlint.verify.expressions, einlint.verify.inputs\n"
        "import einlint.verify.equivalence, einlint.verify.timing, einlint.verify.runtime, einlint.verify.worker\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPOSITORY_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_cached_verdicts_are_marked_and_no_cache_measures_again(sample: Path, einlint) -> None:
    first = json.loads(einlint("--verify", "--format", "json", "sample.py").out)
    assert [fix["cached"] for fix in first["fixes"]] == [False, False]
    table = einlint("--verify", "sample.py").out
    assert table.count("(cached)") == 2 and "2 from the cache" in table
    second = json.loads(einlint("--verify", "--format", "json", "sample.py").out)
    assert [fix["cached"] for fix in second["fixes"]] == [True, True]
    einlint("--verify", "--verify-report", "report.md", "sample.py")
    assert "| sample.py:5:12 | EIN101 | equivalent (cached) |" in Path("report.md").read_text(encoding="utf-8")
    remeasured = json.loads(einlint("--verify", "--no-cache", "--format", "json", "sample.py").out)
    assert [fix["cached"] for fix in remeasured["fixes"]] == [False, False]
    # What --no-cache measured replaced the entries: the next run serves exactly those figures.
    served = json.loads(einlint("--verify", "--format", "json", "sample.py").out)
    assert [fix["timings"] for fix in served["fixes"]] == [fix["timings"] for fix in remeasured["fixes"]]


def test_an_unexpected_error_exits_2_with_one_line_and_fixes_nothing(sample: Path, einlint, monkeypatch: pytest.MonkeyPatch) -> None:
    from einlint.verify import verifier

    def broken(*args, **kwargs):
        raise KeyError("internal")

    monkeypatch.setattr(verifier, "verify_findings", broken)
    run = einlint("--fix", "--unsafe-fixes", "--verify", "sample.py")
    assert run.exit_code == 2
    assert run.err == "einlint: error: the verifier failed (KeyError: 'internal')\n"
    assert sample.read_text(encoding="utf-8") == SAMPLE


def _dies_for_bmm(original: str, *args):
    """Runs in the verifier's worker: a crash while the bmm pair is verified."""
    if "bmm" in original:
        os._exit(3)
    from einlint.verify.verifier import verify_pair

    return verify_pair(original, *args)


def test_fix_verify_skips_a_fix_whose_worker_died(sample: Path, einlint, monkeypatch: pytest.MonkeyPatch) -> None:
    from einlint.verify import verifier

    # The CLI hands verifier.verify_pair to its worker process; this one kills the worker for one pair.
    monkeypatch.setattr(verifier, "verify_pair", _dies_for_bmm)
    run = einlint("--fix", "--unsafe-fixes", "--verify", "--format", "json", "sample.py")
    text = sample.read_text(encoding="utf-8")
    assert "torch.einsum('...qbd,...bdk->...bqk', q, k)" in text  # verified: applied
    assert "torch.bmm(a.transpose(0, 1), b)" in text  # not verifiable: left alone
    document = json.loads(run.out)
    assert document["fixed"] == 1 and run.exit_code == 1
    assert document["fixes"][1]["verdict"] == "not verifiable"
    assert document["fixes"][1]["reason"] == "the verifier's worker process exited with status 3"


@pytest.mark.parametrize("order", [("pkgA", "pkgB"), ("pkgB", "pkgA")])
def test_verify_uses_each_files_own_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, einlint, order: tuple[str, str]) -> None:
    """As plain linting does: pkgA's pyproject.toml asks for unsafe fixes, pkgB's does not, and the
    order in which the two are named changes nothing."""
    monkeypatch.chdir(tmp_path)
    for package in ("pkgA", "pkgB"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "m.py").write_text(SAMPLE, encoding="utf-8")
    (tmp_path / "pkgA" / "pyproject.toml").write_text("[tool.einlint]\nunsafe-fixes = true\n", encoding="utf-8")
    (tmp_path / "pkgB" / "pyproject.toml").write_text("[tool.einlint]\nunsafe-fixes = false\n", encoding="utf-8")
    einlint("--fix", "--verify", "--device", "cpu", *(f"{package}/m.py" for package in order))
    fixed_a = (tmp_path / "pkgA" / "m.py").read_text(encoding="utf-8")
    fixed_b = (tmp_path / "pkgB" / "m.py").read_text(encoding="utf-8")
    assert "torch.einsum('...qbd,...bdk->...bqk', q, k)" in fixed_a  # unsafe, verified, asked for: applied
    assert "torch.matmul(q.transpose(-2, -3), k)" in fixed_b  # unsafe and not asked for: left alone
    assert "torch.einsum('ibd,bdj->bij', a, b)" in fixed_a and "torch.einsum('ibd,bdj->bij', a, b)" in fixed_b
