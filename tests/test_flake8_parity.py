"""``flake8 --select EIN`` and ``einlint`` must report the same findings (path, line, column, code,
message) on the same files, ``# noqa`` included."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURES, fixture_files
from einlint.rules import all_rules

Finding = tuple[str, int, int, str, str]
OBSERVED_ONLY = frozenset(rule.code for rule in all_rules() if rule.observed_only)


def _select(root: Path, codes: list[str]) -> None:
    # Both tools read [tool.einlint]; naming a code turns it on even when it is off by default.
    listed = ", ".join(f'"{code}"' for code in codes)
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(f"[tool.einlint]\nselect = [{listed}]\n", encoding="utf-8")


def _select_everything(root: Path) -> None:
    _select(root, [rule.code for rule in all_rules()])


def flake8_findings(root: Path, target: str) -> set[Finding]:
    result = subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", "--select", "EIN", "--format", "%(path)s\t%(row)d\t%(col)d\t%(code)s\t%(text)s", target],
        cwd=root, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr
    assert result.stderr == ""
    findings = set()
    for line in result.stdout.splitlines():
        path, row, col, code, text = line.split("\t")
        # What einlint observe measured, which the CLI's JSON keeps apart from the message
        # (tests/test_flake8_observations.py compares it with the CLI's text output).
        text = re.sub(r" \(observed: \d+ executions?, [^()]*\)$", "", text)
        findings.add((os.path.normpath(path), int(row), int(col), code, text))
    return findings


def cli_findings(root: Path, target: str) -> set[Finding]:
    result = subprocess.run(
        [sys.executable, "-m", "einlint", "--no-cache", "--format", "json", target],
        cwd=root, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr
    return {(os.path.normpath(d["path"]), d["line"], d["col"], d["code"], d["message"]) for d in json.loads(result.stdout)}


def test_same_findings_on_each_fixture_with_its_own_rule(tmp_path: Path, einlint) -> None:
    # Each fixture in a project of its own that selects its rule: one flake8 run covers them all (the
    # plugin reads the configuration nearest each file), the CLI runs once per project.
    fixtures = [fixture for fixture in fixture_files() if fixture.stem not in OBSERVED_ONLY]
    for fixture in fixtures:
        project = tmp_path / fixture.stem
        _select(project, [fixture.stem])
        copy = project / fixture.relative_to(FIXTURES.parent)
        copy.parent.mkdir(parents=True)
        shutil.copyfile(fixture, copy)
    from_flake8 = flake8_findings(tmp_path, ".")
    from_cli: set[Finding] = set()
    for fixture in fixtures:
        run = einlint("--no-cache", "--format", "json", str(tmp_path / fixture.stem))
        for d in json.loads(run.out):
            from_cli.add((os.path.relpath(d["path"], tmp_path), d["line"], d["col"], d["code"], d["message"]))
    assert sorted(from_flake8 - from_cli) == [], "reported by flake8 only"
    assert sorted(from_cli - from_flake8) == [], "reported by einlint only"
    assert {fixture.stem for fixture in fixtures} == {code for _, _, _, code, _ in from_cli}, "every fixture must be compared"


@pytest.mark.parametrize("code", sorted(OBSERVED_ONLY))
def test_same_findings_on_the_fixture_of_a_rule_that_reports_only_from_observations(code: str, tmp_path: Path) -> None:
    # Both tools read the observations file of the project they run in.
    (fixture,) = [path for path in fixture_files() if path.stem == code]
    _select(tmp_path, [code])
    copy = tmp_path / fixture.relative_to(FIXTURES.parent)
    copy.parent.mkdir(parents=True)
    shutil.copyfile(fixture, copy)
    (tmp_path / ".einlint").mkdir()
    shutil.copyfile(fixture.with_suffix(".observations.json"), tmp_path / ".einlint" / "observations.json")
    from_cli = cli_findings(tmp_path, "fixtures")
    assert {finding[3] for finding in from_cli} == {code}
    assert flake8_findings(tmp_path, "fixtures") == from_cli


def test_same_findings_on_all_fixtures_with_every_rule(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES, tmp_path / "fixtures")
    _select(tmp_path, [rule.code for rule in all_rules()])
    from_flake8 = flake8_findings(tmp_path, "fixtures")
    from_cli = cli_findings(tmp_path, "fixtures")
    assert sorted(from_flake8 - from_cli) == [], "reported by flake8 only"
    assert sorted(from_cli - from_flake8) == [], "reported by einlint only"
    assert len(from_cli) > 100


# Each noqa form on an EIN003 finding (the 'z', column 31 on one-line statements).
NOQA_CASES = """\
import torch


def f(a, b):
    p = torch.einsum("ij,jk->iz", a, b)  # noqa
    q = torch.einsum("ij,jk->iz", a, b)  # noqa: EIN003
    r = torch.einsum("ij,jk->iz", a, b)  # noqa: EIN0
    s = torch.einsum("ij,jk->iz", a, b)  # NOQA:EIN006,EIN003
    t = torch.einsum("ij,jk->iz", a, b)  # noqa: EIN006
    u = torch.einsum("ij,jk->iz", a, b)  # noqa: E501
    v = torch.einsum(
        "ij,jk->iz",
        a,
        b,
    )  # noqa: EIN003
    w = torch.einsum("ij,jk->iz", a, b)  # a comment that mentions noqa only in passing
    x = torch.einsum(
        "ij,jk->iz",  # noqa: EIN003
        a,
        b,
    )
    y = torch.einsum(\"\"\"ij,jk->
    iz\"\"\", a, b)  # noqa: EIN001
    return p, q, r, s, t, u, v, w, x, y
"""
MESSAGE = "output label 'z' appears in no input term"
# flake8 reads a noqa comment on the physical line of the finding; only a token that spans lines (the
# triple-quoted string of `y`) joins lines. So the comment after the closing parenthesis of `v` does
# not reach the finding on line 12, while the one on line 23 covers the string starting on line 22.
NOQA_EXPECTED = {
    ("noqa_cases.py", 9, 31, "EIN003", MESSAGE),
    ("noqa_cases.py", 10, 31, "EIN003", MESSAGE),
    ("noqa_cases.py", 12, 18, "EIN003", MESSAGE),
    ("noqa_cases.py", 16, 31, "EIN003", MESSAGE),
}


@pytest.fixture
def noqa_project(tmp_path: Path) -> Path:
    (tmp_path / "noqa_cases.py").write_text(NOQA_CASES, encoding="utf-8")
    _select_everything(tmp_path)
    return tmp_path


def test_flake8_noqa(noqa_project: Path) -> None:
    assert flake8_findings(noqa_project, "noqa_cases.py") == NOQA_EXPECTED


def test_cli_noqa_matches_flake8(noqa_project: Path) -> None:
    assert cli_findings(noqa_project, "noqa_cases.py") == NOQA_EXPECTED


AWKWARD_FILES = {
    "crlf.py": b'import torch\r\n\r\nx = torch.einsum("ij->iz", torch.randn(2, 3))\r\n',
    "tabs.py": b'import torch\n\n\ndef f(a):\n\tif a is not None:\n\t\treturn torch.einsum("ij->iz", a)\n',
    "accents.py": 'import torch\n\nr\u00e9sultat = torch.einsum("ij->iz", torch.randn(2, 3))  # \u00e9t\u00e9\n'.encode(),
    "latin1.py": b'# -*- coding: latin-1 -*-\nimport torch\nd\xe9j\xe0 = torch.einsum("ij->iz", torch.randn(2, 3))\n',
    "wide.py": 'import torch\n\n\u6570 = torch.einsum("ij->iz", torch.randn(2, 3))\n'.encode(),
}


def test_same_columns_on_awkward_files(tmp_path: Path) -> None:
    for name, data in AWKWARD_FILES.items():
        (tmp_path / name).write_bytes(data)
    _select_everything(tmp_path)
    from_cli = cli_findings(tmp_path, ".")
    assert from_cli == flake8_findings(tmp_path, ".")
    assert {(path, line, col) for path, line, col, _, _ in from_cli} == {
        ("crlf.py", 3, 24),
        ("tabs.py", 6, 29),
        ("accents.py", 3, 31),
        ("latin1.py", 3, 27),
        ("wide.py", 3, 24),
    }
