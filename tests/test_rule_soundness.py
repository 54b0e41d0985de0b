"""Each rule says, in ``Rule.soundness``, which families of einlint.soundness concern its fix and how the
fix handles them, and ``einlint --explain`` prints that. A rule with a fix must cover at least the
families of its kind; a rule without one declares none; what the soundness corpus still marks as failing
for a rule is admitted in that rule's sentence ("not yet handled")."""

from __future__ import annotations

import importlib
import re

import pytest

from einlint.rules import all_rules
from einlint.rules.base import Rule
from einlint.rules.rewrite._chain_rule import ChainRule
from einlint.soundness import SoundnessFamily, soundness_section

RULES = all_rules()
F = SoundnessFamily
# The families every fix of a kind of rule must speak to, by the rule's folder; chain rules more.
REQUIRED_BY_FOLDER = {
    "rewrite": {F.STRICTNESS, F.RESULT_LAYOUT, F.DTYPE_CONTEXT, F.ANNOTATIONS, F.NAMES},
    "layout": {F.STRICTNESS, F.RESULT_LAYOUT, F.ANNOTATIONS, F.NAMES},
    "churn": {F.HOISTING, F.NAMES},
    "equation": {F.NAMES, F.RESULT_LAYOUT},
}
REQUIRED_OF_CHAIN_RULES = {F.FOLDED_TEMPORARIES, F.STALE_FACTS, F.FIXPOINTS}
# A rule that drops a copy must speak to what the copy was.
REQUIRED_BY_CODE = {"EIN202": {F.SNAPSHOTS}}
# The soundness corpus's modules, by the family they hold.
CORPUS_MODULES = {
    "folded_temporaries": F.FOLDED_TEMPORARIES,
    "stale_facts": F.STALE_FACTS,
    "names": F.NAMES,
    "dtype_context": F.DTYPE_CONTEXT,
    "annotations": F.ANNOTATIONS,
    "result_layout": F.RESULT_LAYOUT,
    "snapshots": F.SNAPSHOTS,
    "strictness": F.STRICTNESS,
    "hoisting": F.HOISTING,
    "fixpoints": F.FIXPOINTS,
}
NOT_YET = "not yet handled"


def _has_fix(rule: type[Rule]) -> bool:
    return any(example.fixed is not None for example in rule.invalid)


def _folder(rule: type[Rule]) -> str:
    return rule.__module__.split(".")[2]


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.code)
def test_a_rule_declares_families_exactly_when_it_has_a_fix(rule: type[Rule]) -> None:
    if _has_fix(rule):
        required = REQUIRED_BY_FOLDER[_folder(rule)] | REQUIRED_BY_CODE.get(rule.code, set())
        if issubclass(rule, ChainRule):
            required |= REQUIRED_OF_CHAIN_RULES
        missing = sorted(family.key for family in required - set(rule.soundness))
        assert not missing, f"{rule.code} fixes code but does not say how its fix handles {missing}"
    else:
        assert dict(rule.soundness) == {}, f"{rule.code} offers no fix, so it has nothing to keep sound"


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.code)
def test_each_entry_is_one_sentence_about_one_of_the_ten_families(rule: type[Rule]) -> None:
    for family, sentence in rule.soundness.items():
        assert isinstance(family, SoundnessFamily), f"{rule.code}: {family!r} is not one of the families"
        assert isinstance(sentence, str) and sentence.strip() == sentence and "\n" not in sentence
        assert sentence.endswith(".") and sentence.count(". ") == 0, f"{rule.code} {family.key}: one sentence"


def test_there_are_ten_families_with_distinct_keys() -> None:
    assert len(SoundnessFamily) == 10
    assert len({family.key for family in SoundnessFamily}) == 10
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", family.key) and family.title for family in SoundnessFamily)


def _corpus_failures() -> list[tuple[str, SoundnessFamily, str]]:
    """(case, family, why) for each case the soundness corpus marks as failing today."""
    failures = []
    for module_name, family in CORPUS_MODULES.items():
        module = importlib.import_module(f"tests.soundness.cases.{module_name}")
        failures.extend((case, family, why) for case, why in getattr(module, "XFAIL", {}).items())
    return failures


@pytest.mark.parametrize(("case", "family", "why"), _corpus_failures(), ids=lambda value: value if isinstance(value, str) else "")
def test_what_the_corpus_still_fails_is_admitted(case: str, family: SoundnessFamily, why: str) -> None:
    codes = re.findall(r"EIN\d{3}", why)
    # A reason that names no rule is about folding, which the chain rules do.
    concerned = [rule for rule in RULES if rule.code in codes] if codes else [rule for rule in RULES if issubclass(rule, ChainRule)]
    assert concerned, f"{case}: no rule named in {why!r}"
    admitted = [rule.code for rule in concerned if NOT_YET in rule.soundness.get(family, "")]
    assert admitted, f"{case} fails today ({why}), but none of {[rule.code for rule in concerned]} says '{NOT_YET}' for {family.key}"


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.code)
def test_explain_prints_the_soundness_section_after_the_doc(rule: type[Rule], einlint) -> None:
    run = einlint("--explain", rule.code)
    assert run.exit_code == 0
    doc_end = run.out.index(rule.documentation()) + len(rule.documentation())
    section = run.out[doc_end:]
    assert section.lstrip().startswith("Soundness"), "the section follows the doc string"
    if not rule.soundness:
        assert "no fix" in section
        return
    for family in SoundnessFamily:
        line = f"- {family.key} ({family.title}):"
        if family in rule.soundness:
            assert line in section
            assert _flat(rule.soundness[family]) in _flat(section)
        else:
            assert line not in section
    assert all(len(line) <= 100 for line in section.splitlines())


def test_section_lists_families_in_their_order_and_says_when_there_is_no_fix() -> None:
    text = soundness_section({F.STRICTNESS: "second.", F.NAMES: "first."})
    assert text.index("- names") < text.index("- strictness")
    assert "no fix" in soundness_section({})
