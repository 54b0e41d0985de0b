"""The README is part of the contract: its rule list is `einlint --list-rules`, its commands are the
ones that work (CI runs its test command verbatim), and its configuration example is accepted."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPOSITORY_ROOT
from einlint.config import KNOWN_ASSUMPTIONS, load_settings

README = (REPOSITORY_ROOT / "README.md").read_text(encoding="utf-8")
CI_RUN = (REPOSITORY_ROOT / ".ci" / "run").read_text(encoding="utf-8")
TEST_COMMAND = "python -m pip install torch==2.13.0 && python -m pip install -e '.[dev]' && python -m pytest -q"


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", README, flags=re.MULTILINE | re.DOTALL)


def test_rule_list_matches_list_rules(einlint) -> None:
    match = re.search(r"<!-- rules:start -->\n```text\n(.*?)```\n<!-- rules:end -->", README, flags=re.DOTALL)
    assert match, "README lacks the rule list between <!-- rules:start --> and <!-- rules:end -->"
    listed = einlint("--list-rules").out
    assert match.group(1) == listed, "README rule list is stale: paste the output of `einlint --list-rules`"


def test_opens_with_the_two_commands() -> None:
    first, second = code_blocks("sh")[:2]
    assert first.strip() == (
        "python -m pip install torch==2.13.0 && python -m pip install '.[verify]' && einlint examples/ ; einlint --diff examples/ ; einlint --verify examples/"
    )
    assert second.strip() == TEST_COMMAND


def test_ci_runs_the_readme_test_command_after_installing_torch() -> None:
    lines = CI_RUN.splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines
    assert TEST_COMMAND in lines
    torch_first = lines.index("python -m pip install torch==2.13.0")
    assert torch_first < lines.index(TEST_COMMAND)
    assert "venv" in CI_RUN and "mktemp -d" in CI_RUN, "CI must install into a fresh environment"


def test_ci_script_is_executable() -> None:
    assert (REPOSITORY_ROOT / ".ci" / "run").stat().st_mode & 0o111


def test_bundled_example_shows_findings_and_a_diff() -> None:
    def einlint(*arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "einlint", "--no-cache", *arguments], cwd=REPOSITORY_ROOT, capture_output=True, text=True, timeout=120)

    report = einlint("examples/")
    assert report.returncode == 1
    codes = set(re.findall(r"^examples/\S+:\d+:\d+: (EIN\d{3})", report.stdout, flags=re.MULTILINE))
    assert {"EIN003", "EIN006", "EIN007"} <= codes
    diff = einlint("--diff", "examples/")
    assert diff.stdout.startswith("--- a/examples/attention.py\n+++ b/examples/attention.py\n")
    assert '+    return torch.einsum("bhqd,hrd->bhqr", q, table)' in diff.stdout.splitlines()


def test_configuration_example_is_accepted(tmp_path: Path) -> None:
    (example,) = code_blocks("toml")
    (tmp_path / "pyproject.toml").write_text(example, encoding="utf-8")
    settings = load_settings(tmp_path)
    assert settings.select == ("EIN0", "EIN009")
    assert settings.per_file_ignores == (("tests/*", ("EIN007",)),)


@pytest.mark.parametrize("key", ["select", "ignore", "exclude", "unsafe-fixes", "per-file-ignores", "assume"])
def test_configuration_keys_are_documented(key: str) -> None:
    assert f"`{key}`" in README


@pytest.mark.parametrize("assumption", KNOWN_ASSUMPTIONS)
def test_assumptions_are_documented(assumption: str) -> None:
    assert f"`{assumption}`" in README


def test_both_pre_commit_hooks_are_documented() -> None:
    assert "id: einlint\n" in README
    assert "id: einlint-fix" in README


def test_speed_section_states_a_measurement() -> None:
    section = README.split("## Speed", 1)[1].split("\n## ", 1)[0]
    assert re.search(r"[Ww]hole transformers 5\.23\.0 tree \(2,860 files\): \d+(\.\d+)? s on 2 cores", section)


def test_bundled_example_verifies() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "einlint", "--no-cache", "--verify", "examples/"],
        cwd=REPOSITORY_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "equivalent" in run.stdout and "not equivalent" not in run.stdout
    assert re.search(r"Verified \d+ fix", run.stdout)
