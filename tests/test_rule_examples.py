"""Each rule is its own spec: its ``invalid`` examples must be flagged (and fixed to ``fixed``), its
``valid`` examples must not, and its doc string must say what it flags, why, the fix and the fix's
safety. New rules are picked up from ``einlint.rules.all_rules()``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from einlint.rules import all_rules
from einlint.rules.base import Example, Rule

RULES = all_rules()
DOC_SECTIONS = ("What it flags:", "Why it matters:", "Fix:", "Fix safety:")


def _with_imports(code: str) -> tuple[str, str]:
    """(prefix, file text): ``import torch`` is added to a snippet that imports nothing."""
    has_imports = any(re.match(r"\s*(import|from)\s", line) for line in code.splitlines())
    prefix = "" if has_imports else "import torch\n"
    return prefix, prefix + code + "\n"


def _invalid_cases() -> list:
    return [pytest.param(rule, example, id=f"{rule.code}-invalid-{index}") for rule in RULES for index, example in enumerate(rule.invalid)]


def _valid_cases() -> list:
    return [pytest.param(rule, code, id=f"{rule.code}-valid-{index}") for rule in RULES for index, code in enumerate(rule.valid)]


def _findings(einlint, rule: type[Rule], path: Path) -> list[dict]:
    run = einlint("--select", rule.code, "--unsafe-fixes", "--format", "json", str(path))
    assert run.err == "", run.err
    return [finding for finding in json.loads(run.out) if finding["code"] == rule.code]


@pytest.mark.parametrize(("rule", "example"), _invalid_cases())
def test_invalid_example_is_flagged(rule: type[Rule], example: Example, tmp_path: Path, einlint) -> None:
    prefix, text = _with_imports(example.code)
    path = tmp_path / "example.py"
    path.write_text(text, encoding="utf-8")

    findings = _findings(einlint, rule, path)

    if rule.observed_only:
        # It reports only from observations (its fixture and tests/test_observed_rules.py record
        # them): from the code alone, never.
        assert findings == [], f"{rule.code} reported from the code alone"
        return
    assert findings, f"{rule.code} did not flag:\n{example.code}"
    if example.fixed is None:
        assert all(finding["fix"] is None for finding in findings), "an example without `fixed` must offer no fix"
        return
    expected_tier = "unsafe" if example.unsafe else "safe"
    assert {finding["fix"]["applicability"] for finding in findings if finding["fix"]} == {expected_tier}

    flags = ("--unsafe-fixes",) if example.unsafe else ()
    einlint("--fix", *flags, "--select", rule.code, str(path))
    assert path.read_text(encoding="utf-8") == prefix + example.fixed + "\n"
    if example.unsafe:
        # An unsafe fix is never applied by plain --fix.
        path.write_text(text, encoding="utf-8")
        einlint("--fix", "--select", rule.code, str(path))
        assert path.read_text(encoding="utf-8") == text


@pytest.mark.parametrize(("rule", "code"), _valid_cases())
def test_valid_example_is_not_flagged(rule: type[Rule], code: str, tmp_path: Path, einlint) -> None:
    path = tmp_path / "example.py"
    path.write_text(_with_imports(code)[1], encoding="utf-8")
    assert _findings(einlint, rule, path) == []


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.code)
def test_rule_has_examples_both_ways(rule: type[Rule]) -> None:
    assert rule.invalid, f"{rule.code} has no invalid examples"
    assert rule.valid, f"{rule.code} has no valid examples"


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.code)
def test_rule_doc_has_the_four_parts_in_order(rule: type[Rule]) -> None:
    doc = rule.documentation()
    assert doc.splitlines()[0].strip(), "the first line is the summary --list-rules shows"
    positions = [doc.find(section) for section in DOC_SECTIONS]
    assert all(position >= 0 for position in positions), f"{rule.code} doc lacks one of {DOC_SECTIONS}"
    assert positions == sorted(positions), f"{rule.code} doc sections are out of order"
    bodies = [doc[start + len(section) : end] for section, start, end in zip(DOC_SECTIONS, positions, [*positions[1:], len(doc)])]
    assert all(body.strip() for body in bodies), f"{rule.code} has an empty doc section"


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.code)
def test_report_only_rules_offer_no_fixed_examples(rule: type[Rule]) -> None:
    safety = rule.documentation().split("Fix safety:", 1)[1].strip().lower()
    has_fixed_examples = any(example.fixed is not None for example in rule.invalid)
    assert safety.startswith("report-only") != has_fixed_examples, (
        f"{rule.code}: 'Fix safety: report-only' must go with examples that have no `fixed`, and only with them"
    )


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.code)
def test_rule_identity(rule: type[Rule]) -> None:
    assert re.fullmatch(r"EIN\d{3}", rule.code)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.name), "names are kebab-case"
    assert rule.triggers.names or rule.triggers.matmul_operator, "a rule without trigger words never runs"


def test_codes_and_names_are_unique() -> None:
    codes = [rule.code for rule in RULES]
    names = [rule.name for rule in RULES]
    assert len(set(codes)) == len(codes)
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.code)
def test_explain_prints_the_doc(rule: type[Rule], einlint) -> None:
    run = einlint("--explain", rule.code)
    assert run.exit_code == 0
    assert run.out.splitlines()[0] == f"{rule.code} ({rule.name})"
    assert rule.documentation() in run.out
    for section in DOC_SECTIONS:
        assert section in run.out


def test_explain_accepts_lower_case(einlint) -> None:
    assert einlint("--explain", "ein003").out == einlint("--explain", "EIN003").out


def test_explain_unknown_code_is_a_usage_error(einlint) -> None:
    run = einlint("--explain", "EIN998")
    assert run.exit_code == 2
    assert run.out == ""
    assert "EIN998" in run.err
