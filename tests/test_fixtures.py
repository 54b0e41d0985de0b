"""Every rule fixture against its reviewed expectations.

``fixtures/<family>/EINxxx.py`` holds bad and good lines side by side. Beside it:
- ``EINxxx.txt``: the findings ``einlint --select EINxxx`` must print, exactly (text format, paths
  relative to the repository root);
- ``EINxxx.out.py`` (rules with safe fixes): the file after ``einlint --fix --select EINxxx``;
- ``EINxxx.unsafe.out.py`` (rules with unsafe fixes): the file after ``--fix --unsafe-fixes``;
- ``EINxxx.observations.json`` (rules that report only from observations): what ``einlint observe``
  recorded, written by hand; linting reads it as the project's observations file.

A new family folder or a new fixture is picked up without editing this file.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from conftest import FIXTURES, REPOSITORY_ROOT, fixture_files
from einlint.rules import all_rules

FIXTURE_FILES = fixture_files()


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def _copy_into(tmp_path: Path, fixture: Path) -> Path:
    """The fixture at the same relative path under ``tmp_path``, away from any configuration; with
    its ``EINxxx.observations.json`` (a rule that reports only from observations) as the observations
    file linting reads there."""
    relative = fixture.relative_to(REPOSITORY_ROOT)
    copy = tmp_path / relative
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(fixture, copy)
    observations = fixture.with_suffix(".observations.json")
    if observations.is_file():
        (tmp_path / ".einlint").mkdir(exist_ok=True)
        shutil.copyfile(observations, tmp_path / ".einlint" / "observations.json")
    return relative


def test_every_rule_has_a_fixture() -> None:
    fixture_codes = {path.stem for path in FIXTURE_FILES}
    missing = [rule.code for rule in all_rules() if rule.code not in fixture_codes]
    assert not missing, f"rules without fixtures/<family>/<CODE>.py: {missing}"


def test_every_fixture_names_a_rule() -> None:
    codes = {rule.code for rule in all_rules()}
    assert [path.name for path in FIXTURE_FILES if path.stem not in codes] == []


def test_the_equation_family_is_collected() -> None:
    # Guards the glob itself: if it matched nothing, every parametrised test below would vanish.
    assert {f"EIN00{n}" for n in range(1, 10)} <= {path.stem for path in FIXTURES.joinpath("equation").glob("EIN*.py")}
    assert {path.stem for path in FIXTURE_FILES} >= {f"EIN00{n}" for n in range(1, 10)}


@pytest.mark.parametrize("fixture", FIXTURE_FILES, ids=_id)
def test_findings_match_expected(fixture: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, einlint) -> None:
    code = fixture.stem
    expected_path = fixture.with_suffix(".txt")
    assert expected_path.is_file(), f"{expected_path.name} is missing"
    expected = expected_path.read_text(encoding="utf-8").splitlines()
    assert expected, "a fixture must contain at least one bad line"
    assert all(f": {code} " in line for line in expected), "the expected findings name another code"
    relative = _copy_into(tmp_path, fixture)
    monkeypatch.chdir(tmp_path)

    run = einlint("--select", code, relative.as_posix())

    assert run.finding_lines == expected
    assert run.exit_code == 1
    assert run.err == ""


@pytest.mark.parametrize("fixture", FIXTURE_FILES, ids=_id)
def test_fix_matches_expected(fixture: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, einlint) -> None:
    code = fixture.stem
    relative = _copy_into(tmp_path, fixture)
    monkeypatch.chdir(tmp_path)
    tiers = [(fixture.with_suffix(".out.py"), ()), (fixture.with_suffix(".unsafe.out.py"), ("--unsafe-fixes",))]
    checked = 0
    for expected_path, flags in tiers:
        if not expected_path.is_file():
            continue
        checked += 1
        shutil.copyfile(fixture, relative)

        first = einlint("--fix", *flags, "--select", code, relative.as_posix())
        fixed = relative.read_bytes()
        assert first.err == ""
        assert fixed == expected_path.read_bytes(), f"--fix {' '.join(flags)} differs from {expected_path.name}"
        ast.parse(fixed)

        einlint("--fix", *flags, "--select", code, relative.as_posix())
        assert relative.read_bytes() == fixed, "a second --fix changed the file again"

    if "[*]" in fixture.with_suffix(".txt").read_text(encoding="utf-8"):
        assert fixture.with_suffix(".out.py").is_file(), f"{fixture.name} has safe fixes but no {code}.out.py"
    if not checked:
        # A fixture without expected outputs offers no fix in any tier: --fix must leave it as it is.
        einlint("--fix", "--unsafe-fixes", "--select", code, relative.as_posix())
        assert relative.read_bytes() == fixture.read_bytes(), f"{code} fixed something: add {code}.out.py"
