"""The flake8 plugin reads ``einlint observe``'s observations as the CLI does: after one recorded run,
``flake8 --select EIN`` and ``einlint`` print the same findings with the same messages (an observed
fix's measured time, a withdrawn fix and what withdrew it, a fix not observed), from the default file
or from one named on the command line."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore")

MODEL = """\
import torch


def scores(q, k):
    s = q.permute(0, 2, 1, 3) @ k
    return s


def mixed(q, k):
    s = q.permute(0, 2, 1, 3) @ k
    return s


def unused(x, w):
    return x.permute(0, 2, 1, 3) @ w
"""
SCRIPT = """\
import torch

from pkg.model import mixed, scores


class Lazy:
    def __init__(self, tensor):
        self.tensor = tensor

    def permute(self, *dims):
        return Lazy(self.tensor.permute(*dims))

    def __matmul__(self, other):
        return self.tensor @ other


q, k = torch.randn(2, 5, 3, 4), torch.randn(2, 3, 4, 6)
scores(q, k)
mixed(q, k)
mixed(Lazy(q), k)
"""
FORMAT = "%(path)s:%(row)d:%(col)d: %(code)s %(text)s"


def run(*command: str, cwd: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "EINLINT_CACHE_DIR": str(cwd / ".cache")}
    return subprocess.run([sys.executable, "-m", *command], cwd=cwd, capture_output=True, text=True, env=environment, timeout=600)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("flake8-observations")
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n', encoding="utf-8")
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("", encoding="utf-8")
    (root / "pkg" / "model.py").write_text(MODEL, encoding="utf-8")
    (root / "script.py").write_text(SCRIPT, encoding="utf-8")
    recorded = run("einlint", "observe", "--", sys.executable, "script.py", cwd=root)
    assert recorded.returncode == 0, recorded.stderr
    return root


def cli_lines(project: Path, *args: str) -> list[str]:
    result = run("einlint", "--no-cache", *args, "pkg", cwd=project)
    assert result.returncode == 1, result.stderr
    # The text format marks a fixable finding ([*], [observed]); flake8 has no such marker.
    return [re.sub(r": (EIN\d{3}) \[(\*|observed)\] ", r": \1 ", line) for line in result.stdout.splitlines() if re.match(r"pkg/model\.py:\d+:\d+: EIN", line)]


def flake8_lines(project: Path, *args: str) -> tuple[list[str], str]:
    result = run("flake8", "--isolated", "--select", "EIN", "--format", FORMAT, *args, "pkg", cwd=project)
    assert result.returncode == 1, result.stderr
    return [line.replace(f".{os.sep}", "", 1) if line.startswith(".") else line for line in result.stdout.splitlines()], result.stderr


def test_flake8_and_the_cli_report_the_same_judged_findings(project: Path) -> None:
    from_cli = cli_lines(project)
    from_flake8, errors = flake8_lines(project)
    assert errors == ""
    assert from_flake8 == from_cli
    by_line = {int(line.split(":")[1]): line for line in from_flake8}
    assert sorted(by_line) == [5, 10, 15]
    assert re.search(r"\(observed: 1 execution, [\d.]+ (us|ms)\)$", by_line[5])
    assert "[fix withdrawn: observed `q` as __main__.Lazy in 1 of 2 executions] (observed: 2 executions, " in by_line[10]
    assert by_line[15].endswith("(fix not observed: the statement did not run under einlint observe)")


def test_a_named_observations_file_is_read_by_both(project: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "kept.json"
    shutil.copyfile(project / ".einlint" / "observations.json", elsewhere)
    moved = project / ".einlint" / "observations.json.away"
    (project / ".einlint" / "observations.json").rename(moved)
    try:
        without, _ = flake8_lines(project)
        assert not [line for line in without if "observed" in line]
        from_flake8, _ = flake8_lines(project, f"--einlint-observations={elsewhere}")
        assert from_flake8 == cli_lines(project, "--observations", str(elsewhere))
        assert any("[fix withdrawn: observed `q`" in line for line in from_flake8)
    finally:
        moved.rename(project / ".einlint" / "observations.json")


def test_a_damaged_default_file_is_a_warning_in_both(project: Path) -> None:
    default = project / ".einlint" / "observations.json"
    kept = default.read_bytes()
    default.write_text("{not json", encoding="utf-8")
    try:
        from_flake8, errors = flake8_lines(project)
        assert "einlint: warning: " in errors and "observations not used" in errors
        assert from_flake8 == cli_lines(project)
        assert not [line for line in from_flake8 if "observed" in line]
    finally:
        default.write_bytes(kept)
