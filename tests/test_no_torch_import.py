"""The linter must start fast: running it (CLI or flake8 plugin) never imports torch. Checked with
``python -X importtime``, which lists every module a process imports, worker processes included."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import FIXTURES, REPOSITORY_ROOT


def imported_modules(arguments: list[str]) -> tuple[set[str], subprocess.CompletedProcess]:
    result = subprocess.run([sys.executable, "-X", "importtime", *arguments], cwd=REPOSITORY_ROOT, capture_output=True, text=True, timeout=300)
    modules = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                modules.add(name)
    return modules, result


def torch_modules(modules: set[str]) -> list[str]:
    return sorted(name for name in modules if name == "torch" or name.startswith("torch."))


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param(["-m", "einlint", "--no-cache", str(FIXTURES)], id="lint-fixtures"),
        pytest.param(["-m", "einlint", "--no-cache", "--jobs", "1", "--diff", str(FIXTURES)], id="diff-fixtures"),
        pytest.param(["-m", "einlint", "--list-rules"], id="list-rules"),
        pytest.param(["-m", "flake8", "--isolated", "--select", "EIN", str(FIXTURES)], id="flake8-plugin"),
    ],
)
def test_no_torch_import(arguments: list[str]) -> None:
    modules, result = imported_modules(arguments)
    assert result.returncode in (0, 1), result.stderr[-2000:]
    # The listing is real: the rules' shared modules were imported (and, on fixtures, found something).
    # (Rule modules themselves are loaded with importlib, which -X importtime does not list.)
    assert {"einlint.rules.base", "einlint.equation.checks"} <= modules
    if "--list-rules" not in arguments:
        assert result.returncode == 1 and result.stdout.strip()
    assert torch_modules(modules) == []


def test_no_torch_in_sys_modules_after_a_run() -> None:
    # Catches what -X importtime cannot see: a module loaded through importlib.
    script = (
        "import sys\n"
        "from einlint.cli import main\n"
        f"code = main(['--no-cache', '--jobs', '1', '--select', 'EIN', {str(FIXTURES)!r}])\n"
        "from einlint.rules import all_rules\n"
        "assert len(all_rules()) >= 9\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')), code)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPOSITORY_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines()[-1] == "[] 1"
