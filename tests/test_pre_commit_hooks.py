"""The pre-commit hooks: declared as documented, and running them gives the CLI's findings."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import FIXTURES, REPOSITORY_ROOT, fixture_files


def read_hooks(text: str) -> list[dict[str, str]]:
    """The flat ``- key: value`` list that .pre-commit-hooks.yaml is; values kept as written."""
    hooks: list[dict[str, str]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.startswith("- "):
            hooks.append({})
            line = line[2:]
        elif not line.startswith("  "):
            raise ValueError(f"unexpected line: {line!r}")
        key, separator, value = line.strip().partition(":")
        assert separator, f"not a key: value line: {line!r}"
        hooks[-1][key] = value.strip()
    return hooks


HOOKS = {hook["id"]: hook for hook in read_hooks((REPOSITORY_ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))}


def test_hooks_are_declared() -> None:
    assert set(HOOKS) == {"einlint", "einlint-fix"}
    # pre-commit names every staged file: --force-exclude makes `exclude` and .gitignore apply to them.
    assert HOOKS["einlint"]["entry"] == "einlint --force-exclude"
    assert HOOKS["einlint-fix"]["entry"] == "einlint --force-exclude --fix"
    for hook in HOOKS.values():
        assert hook["language"] == "python"
        assert hook["types_or"] == "[python, jupyter]"
        assert hook["name"]


def run_hook(hook_id: str, files: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run a hook the way pre-commit does: its entry followed by the staged Python files."""
    program, *arguments = shlex.split(HOOKS[hook_id]["entry"])
    assert program == "einlint"
    command = [sys.executable, "-m", "einlint", *arguments, *files]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_hook_reports_what_the_cli_reports(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES, tmp_path / "fixtures")
    staged = sorted(str(path.relative_to(REPOSITORY_ROOT)) for path in fixture_files())
    hook = run_hook("einlint", staged, tmp_path)
    cli = subprocess.run([sys.executable, "-m", "einlint", "--no-cache", *staged], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert hook.returncode == cli.returncode == 1
    assert hook.stdout == cli.stdout
    assert "EIN003" in hook.stdout


def test_fix_hook_fixes(tmp_path: Path) -> None:
    path = tmp_path / "model.py"
    path.write_text('import torch\nx = torch.einsum("ij->...ji", torch.randn(2, 3))\n', encoding="utf-8")
    result = run_hook("einlint-fix", ["model.py"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert path.read_text(encoding="utf-8") == 'import torch\nx = torch.einsum("ij->ji", torch.randn(2, 3))\n'


def test_fix_hook_leaves_an_excluded_file_alone(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.einlint]\nexclude = ["vendor"]\n', encoding="utf-8")
    (tmp_path / "vendor").mkdir()
    vendored = tmp_path / "vendor" / "lib.py"
    text = 'import torch\nx = torch.einsum("ij->...ji", torch.randn(2, 3))\n'
    vendored.write_text(text, encoding="utf-8")
    result = run_hook("einlint-fix", ["vendor/lib.py"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert vendored.read_text(encoding="utf-8") == text
