"""``--verify`` over the differential fuzzer's programs (chains with views, temporaries, in-place ops,
nested scopes, loops, autocast): every fix gets a verdict, none of them an internal error of the
verifier, and the command ends with a verdict table, never a traceback."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

pytest.importorskip("torch")

from einlint.config import Settings  # noqa: E402
from einlint.engine.runner import RuleSet, lint_source  # noqa: E402
from einlint.engine.source import SourceText  # noqa: E402
from einlint.verify.verifier import VERDICTS, VerifyOptions, verify_findings  # noqa: E402
from soundness.fuzz import Recorded, build  # noqa: E402

PROGRAMS = 40
TINY = VerifyOptions(profiles=("tiny",), timing=False, use_cache=False)


def _programs(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [build(Recorded(rng=rng), f"fuzz{index}").source for index in range(count)]


def test_every_fuzzed_fix_gets_a_verdict_and_none_is_an_internal_error() -> None:
    settings = Settings(unsafe_fixes=True)
    rules = RuleSet.for_settings(settings)
    findings = []
    for index, text in enumerate(_programs(PROGRAMS, seed=14)):
        source = SourceText(f"fuzz{index}.py", text)
        findings += [(diagnostic, text) for diagnostic in lint_source(source, settings, rules).diagnostics if diagnostic.fix]
    assert len(findings) >= 5, "the fuzzer's programs no longer give fixes to verify"
    results = verify_findings(findings, TINY)
    assert len(results) == len(findings)
    for item in results:
        assert item.result.verdict in VERDICTS
        assert "internal error" not in item.result.reason, (item.location, item.result.reason)
        assert "\n" not in item.result.reason


def test_the_verify_command_over_fuzzed_files_never_ends_in_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, einlint) -> None:
    from einlint.verify import command

    monkeypatch.setattr(command, "CLI_PROFILES", ("tiny",))
    monkeypatch.setattr(command, "CLI_MIN_RUN_TIME", 0.001)
    for index, text in enumerate(_programs(12, seed=41)):
        (tmp_path / f"fuzz{index}.py").write_text(text, encoding="utf-8")
    original = {path.name: path.read_text(encoding="utf-8") for path in tmp_path.glob("*.py")}
    run = einlint("--verify", "--unsafe-fixes", "--device", "cpu", "--format", "json", str(tmp_path))
    assert run.exit_code in (0, 1), run.err
    assert "Traceback" not in run.err and "internal error" not in run.out
    fixed = einlint("--fix", "--verify", "--unsafe-fixes", "--device", "cpu", str(tmp_path))
    assert fixed.exit_code in (0, 1), fixed.err
    # Files are rewritten whole or not at all: each still parses.
    for path in tmp_path.glob("*.py"):
        compile(path.read_text(encoding="utf-8"), str(path), "exec")
    assert set(original) == {path.name for path in tmp_path.glob("*.py")}
