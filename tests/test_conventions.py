"""The conventions of Ruff and flake8 that CI, pre-commit and editors rely on: per-file configuration,
strict configuration errors, the cache, the familiar flags, .gitignore, stdin, notebooks, fix edits
another tool can apply, SARIF details and escaping at the output boundary. Through the real CLI (and
the flake8 plugin where it applies)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPOSITORY_ROOT

# EIN003 at 5:31, EIN006 at 6:30 (safe fix), EIN009 at 7:23 (off by default).
MIXED = """\
import torch


def f(a, b):
    x = torch.einsum("ij,jk->iz", a, b)
    y = torch.einsum("ij,jk->...ik", a, b)
    z = torch.einsum("ij,jk", a, b)
    return x, y, z
"""
FIXABLE = 'import torch\nx = torch.einsum("ij->...ji", torch.randn(2, 3))\n'
FIXED = 'import torch\nx = torch.einsum("ij->ji", torch.randn(2, 3))\n'


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def codes(run) -> list[tuple[str, str]]:
    """(path, code) of each finding in a text report."""
    return [(line.split(":")[0], line.split()[1]) for line in run.finding_lines]


def einlint_process(*arguments: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "einlint", "--no-cache", *arguments], cwd=cwd, input=stdin, capture_output=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY_ROOT)},
    )  # fmt: skip


# --- 1. correctness: cache, per-file configuration, configuration errors ---------------------------


def test_cached_findings_print_the_path_as_given_now(project: Path, monkeypatch: pytest.MonkeyPatch, einlint) -> None:
    write(project, "proj/src/util.py", MIXED)
    first = einlint("proj/src/util.py")
    assert [path for path, _ in codes(first)] == ["proj/src/util.py"] * 2
    monkeypatch.chdir(project / "proj")
    second = einlint("src/util.py")
    assert [path for path, _ in codes(second)] == ["src/util.py"] * 2


def two_packages(root: Path) -> None:
    write(root, "pkgA/pyproject.toml", '[tool.einlint]\nselect = ["EIN009"]\n')
    write(root, "pkgA/m.py", MIXED)
    write(root, "pkgB/m.py", MIXED)


EXPECTED_TWO_PACKAGES = [("pkgA/m.py", "EIN009"), ("pkgB/m.py", "EIN003"), ("pkgB/m.py", "EIN006")]


def test_each_file_gets_its_nearest_configuration_in_any_order(project: Path, einlint) -> None:
    two_packages(project)
    forward = einlint("pkgA/m.py", "pkgB/m.py")
    backward = einlint("pkgB/m.py", "pkgA/m.py")
    assert sorted(codes(forward)) == sorted(codes(backward)) == EXPECTED_TWO_PACKAGES
    assert sorted(codes(einlint("."))) == [("./" + path, code) for path, code in EXPECTED_TWO_PACKAGES]


def test_flake8_plugin_resolves_the_same_configuration(project: Path) -> None:
    two_packages(project)
    for order in (["pkgA/m.py", "pkgB/m.py"], ["pkgB/m.py", "pkgA/m.py"]):
        result = subprocess.run(
            [sys.executable, "-m", "flake8", "--isolated", "--select", "EIN", "--format", "%(path)s %(code)s", *order],
            cwd=project, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert sorted(tuple(line.split()) for line in result.stdout.splitlines()) == EXPECTED_TWO_PACKAGES


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (["--select", "EIN999"], "EIN999"),
        (["--extend-select", "EIN9"], "EIN9"),
        (["--ignore", "EIN0,EIN777"], "EIN777"),
    ],
)
def test_unknown_codes_on_the_command_line_are_errors(arguments: list[str], named: str, project: Path, einlint) -> None:
    write(project, "m.py", MIXED)
    run = einlint(*arguments, "m.py")
    assert run.exit_code == 2
    (line,) = run.err.splitlines()
    assert named in line and "Traceback" not in run.err
    assert run.out == ""


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ('select = ["EIN999"]', "EIN999"),
        ('extend-ignore = ["EIN42"]', "EIN42"),
        ('unsafe-fixes = "false"', "unsafe-fixes"),
        ('exclude = "src"', "exclude"),
        ("select = 5", "select"),
        ('selct = ["EIN003"]', "'selct' (did you mean 'select'?)"),
        ('[tool.einlint.per-file-ignores]\n"tests/*" = "EIN003"', "per-file-ignores"),
        ('[tool.einlint.per-file-ignores]\n"tests/*" = ["EIN998"]', "EIN998"),
        ("respect-gitignore = 1", "respect-gitignore"),
    ],
)
def test_configuration_errors_name_the_key_or_code(table: str, named: str, project: Path, einlint) -> None:
    write(project, "pyproject.toml", "[tool.einlint]\n" + table + "\n")
    write(project, "m.py", MIXED)
    run = einlint("m.py")
    assert run.exit_code == 2
    (line,) = run.err.splitlines()
    assert named in line and "pyproject.toml" in line
    assert "Traceback" not in run.err


def test_flake8_plugin_reports_a_broken_configuration(project: Path) -> None:
    write(project, "pyproject.toml", '[tool.einlint]\nunsafe-fixes = "false"\n')
    write(project, "m.py", MIXED)
    result = subprocess.run([sys.executable, "-m", "flake8", "--isolated", "--select", "EIN", "m.py"], cwd=project, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "unsafe-fixes" in result.stdout + result.stderr


# --- 2. conventions --------------------------------------------------------------------------------


def test_exit_zero(project: Path, einlint) -> None:
    write(project, "m.py", MIXED)
    run = einlint("--exit-zero", "m.py")
    assert run.exit_code == 0 and len(run.finding_lines) == 2


def test_output_file(project: Path, einlint) -> None:
    write(project, "m.py", MIXED)
    run = einlint("--format", "json", "--output-file", "report.json", "m.py")
    assert run.exit_code == 1 and run.out == ""
    assert [finding["code"] for finding in json.loads((project / "report.json").read_text(encoding="utf-8"))] == ["EIN003", "EIN006"]


def test_config_file_and_isolated(project: Path, einlint) -> None:
    write(project, "pyproject.toml", '[tool.einlint]\nselect = ["EIN009"]\n')
    write(project, "other.toml", 'ignore = ["EIN006"]\n')
    write(project, "m.py", MIXED)
    assert codes(einlint("m.py")) == [("m.py", "EIN009")]
    assert codes(einlint("--config", "other.toml", "m.py")) == [("m.py", "EIN003")]
    assert codes(einlint("--isolated", "m.py")) == [("m.py", "EIN003"), ("m.py", "EIN006")]


def test_extend_select_and_extend_ignore(project: Path, einlint) -> None:
    write(project, "m.py", MIXED)
    assert codes(einlint("--extend-select", "EIN009", "m.py")) == [("m.py", "EIN003"), ("m.py", "EIN006"), ("m.py", "EIN009")]
    assert codes(einlint("--extend-ignore", "EIN006", "m.py")) == [("m.py", "EIN003")]
    write(project, "pyproject.toml", '[tool.einlint]\nextend-select = ["EIN009"]\nextend-ignore = ["EIN003"]\n')
    assert codes(einlint("m.py")) == [("m.py", "EIN006"), ("m.py", "EIN009")]
    assert codes(einlint("--extend-ignore", "EIN009", "m.py")) == [("m.py", "EIN006")]


def test_force_exclude_applies_exclude_to_named_files(project: Path, einlint) -> None:
    write(project, "pyproject.toml", '[tool.einlint]\nexclude = ["vendor"]\n')
    write(project, "vendor/lib.py", MIXED)
    assert codes(einlint("vendor/lib.py"))  # named explicitly: checked
    run = einlint("--force-exclude", "vendor/lib.py")
    assert (run.exit_code, run.finding_lines) == (0, [])
    assert "All checks passed." not in run.out


def test_quiet_prints_findings_only(project: Path, einlint) -> None:
    write(project, "m.py", MIXED)
    run = einlint("--quiet", "m.py")
    assert run.out.splitlines() == run.finding_lines and len(run.finding_lines) == 2


def test_show_fixes_lists_what_was_fixed(project: Path, einlint) -> None:
    write(project, "m.py", FIXABLE)
    run = einlint("--fix", "--show-fixes", "m.py")
    assert run.exit_code == 0
    assert "fixed: m.py:2:23: EIN006" in run.err


def test_show_settings(project: Path, einlint) -> None:
    write(project, "pyproject.toml", '[tool.einlint]\nselect = ["EIN009"]\nassume = ["tensor-operands"]\n')
    write(project, "m.py", MIXED)
    run = einlint("--show-settings", "m.py")
    assert run.exit_code == 0
    assert "select = ['EIN009']" in run.out and "assume = ['tensor-operands']" in run.out
    assert str(project / "pyproject.toml") in run.out


def test_add_noqa_silences_every_finding(project: Path, einlint) -> None:
    path = write(project, "m.py", MIXED.replace('"ij,jk->iz", a, b)', '"ij,jk->iz", a, b)  # noqa: EIN101'))
    run = einlint("--add-noqa", "m.py")
    assert run.exit_code == 0 and "Added 2 noqa directives." in run.out
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[4] == '    x = torch.einsum("ij,jk->iz", a, b)  # noqa: EIN101, EIN003'
    assert lines[5] == '    y = torch.einsum("ij,jk->...ik", a, b)  # noqa: EIN006'
    assert einlint("m.py").exit_code == 0


@pytest.mark.parametrize(("directive", "left"), [("# einlint: noqa", []), ("# einlint: noqa: EIN006", ["EIN003"])])
def test_file_level_noqa_in_cli_and_plugin(directive: str, left: list[str], project: Path, einlint) -> None:
    write(project, "m.py", directive + "\n" + MIXED)
    assert [code for _, code in codes(einlint("m.py"))] == left
    result = subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", "--select", "EIN", "--format", "%(code)s", "m.py"],
        cwd=project, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.stdout.split() == left


def test_gitignore_and_default_skips(project: Path, einlint) -> None:
    (project / ".git").mkdir()
    write(project, ".gitignore", "# generated\ngen_*.py\n!gen_keep.py\n/env2/\nbuild-*/\n")
    write(project, "src/.gitignore", "local.py\n")
    for skipped in ("gen_a.py", "env2/x.py", "build-x/y.py", "src/local.py", "dist/d.py", "lib/site-packages/s.py", "myenv/m.py"):
        write(project, skipped, MIXED)
    write(project, "myenv/pyvenv.cfg", "home = /usr\n")
    write(project, "gen_keep.py", MIXED)
    write(project, "src/model.py", MIXED)
    assert sorted({path for path, _ in codes(einlint("."))}) == ["./gen_keep.py", "./src/model.py"]
    assert len({path for path, _ in codes(einlint("--no-respect-gitignore", "."))}) == 6
    assert codes(einlint("--force-exclude", "src/local.py")) == []


def test_closed_pipe_is_quiet(project: Path) -> None:
    for index in range(200):
        write(project, f"m{index:03}.py", MIXED)
    result = subprocess.run(
        f"{sys.executable} -m einlint --no-cache . | head -1", shell=True, cwd=project, capture_output=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY_ROOT)},
    )  # fmt: skip
    assert result.stdout.count(b"\n") == 1
    assert b"Traceback" not in result.stderr and b"BrokenPipe" not in result.stderr


def test_unreadable_directory_argument(project: Path, monkeypatch: pytest.MonkeyPatch, einlint) -> None:
    write(project, "locked/m.py", MIXED)
    real_scandir = os.scandir

    def scandir(path=".", *args, **kwargs):
        if os.path.abspath(path) == str(project / "locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path, *args, **kwargs)

    monkeypatch.setattr(os, "scandir", scandir)
    run = einlint("locked")
    assert run.exit_code == 2
    assert run.err.splitlines() == ["locked: error: cannot list directory: Permission denied"]
    assert "All checks passed." not in run.out


def test_no_success_claim_when_no_file_was_checked(project: Path, einlint) -> None:
    (project / "empty").mkdir()
    run = einlint("empty")
    assert run.exit_code == 0
    assert run.out == "No files to check.\n"


# --- 3. stdin and notebooks ------------------------------------------------------------------------


def test_stdin_uses_the_configuration_of_its_filename(project: Path) -> None:
    write(project, "pyproject.toml", '[tool.einlint.per-file-ignores]\n"tests/*" = ["EIN003"]\n')
    data = MIXED.encode()
    plain = einlint_process("-", "--stdin-filename", "src/m.py", cwd=project, stdin=data)
    assert plain.returncode == 1
    assert [line.split()[1] for line in plain.stdout.decode().splitlines()[:-1]] == ["EIN003", "EIN006"]
    assert plain.stdout.decode().startswith("src/m.py:5:31: EIN003")
    in_tests = einlint_process("-", "--stdin-filename", "tests/m.py", cwd=project, stdin=data)
    assert [line.split()[1] for line in in_tests.stdout.decode().splitlines()[:-1]] == ["EIN006"]


def test_stdin_fix_writes_the_fixed_source_to_stdout(project: Path) -> None:
    result = einlint_process("-", "--fix", "--stdin-filename", "m.py", cwd=project, stdin=FIXABLE.encode())
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == FIXED
    assert not (project / "m.py").exists()


def notebook(cells: list[dict]) -> str:
    document = {"cells": cells, "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(document, indent=1) + "\n"


def code_cell(source: str, outputs: list | None = None) -> dict:
    return {
        "cell_type": "code", "execution_count": 1, "id": "x", "metadata": {"tags": ["keep"]},
        "outputs": outputs or [], "source": source.splitlines(keepends=True),
    }  # fmt: skip


NOTEBOOK_CELLS = [
    code_cell("%matplotlib inline\nimport torch\n!pip list\n"),
    {"cell_type": "markdown", "id": "m", "metadata": {}, "source": ["# einsum(\"ij->iz\") in prose\n"]},
    code_cell("a = torch.randn(2, 3)\nfor i in range(2):\n    %time b = 1\n    x = torch.einsum(\"ij->...ji\", a)\n",
              [{"name": "stdout", "output_type": "stream", "text": ["out\n"]}]),
    code_cell("%%bash\necho torch.einsum(\"ij->iz\")\n"),
    code_cell("y = torch.einsum(\"ij->iz\", a)\nhelp?"),
]  # fmt: skip


def test_notebook_findings_name_the_cell_and_the_line_in_it(project: Path, einlint) -> None:
    write(project, "nb.ipynb", notebook(NOTEBOOK_CELLS))
    run = einlint(".")
    assert run.out.splitlines()[:2] == [
        "./nb.ipynb:cell 3:4:27: EIN006 [*] output '...' stands for no dimensions: no input term has an ellipsis",
        "./nb.ipynb:cell 5:1:24: EIN003 output label 'z' appears in no input term",
    ]
    (finding, _) = json.loads(einlint("--format", "json", "nb.ipynb").out)
    assert (finding["cell"], finding["line"], finding["fix"]["edits"][0]["location"]) == (3, 4, {"row": 4, "column": 22, "cell": 3})


def test_notebook_fix_rewrites_cells_and_keeps_the_rest(project: Path, einlint) -> None:
    path = write(project, "nb.ipynb", notebook(NOTEBOOK_CELLS))
    run = einlint("--fix", "nb.ipynb")
    assert run.exit_code == 1  # EIN003 in cell 5 is left
    fixed = json.loads(path.read_text(encoding="utf-8"))
    expected = json.loads(notebook(NOTEBOOK_CELLS))
    expected["cells"][2]["source"][3] = '    x = torch.einsum("ij->ji", a)\n'
    assert fixed == expected


# --- 4. machine-readable fixes ---------------------------------------------------------------------


def apply_json_edits(text: str, findings: list[dict]) -> str:
    """Apply the edits of every fix as another tool would: rows and 1-based character columns."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(location: dict) -> int:
        return starts[location["row"] - 1] + location["column"] - 1

    edits = [(offset(e["location"]), offset(e["end_location"]), e["content"]) for f in findings if f["fix"] for e in f["fix"]["edits"]]
    for start, end, content in sorted(edits, reverse=True):
        text = text[:start] + content + text[end:]
    return text


MANY_FIXES = """\
import torch


def f(a, b, c):
    x = torch.einsum("ij,jk->...ik", a, b)
    y = torch.einsum(
        "ij->...ji",
        c,
    )
    é = torch.einsum("ij,jk->...ik", a, b) + torch.einsum("i->...i", c[0])
    return (a.transpose(-1, -2) @ b).sum(-1), x, y, é
"""


def test_json_edits_reproduce_fix_exactly(project: Path, einlint) -> None:
    path = write(project, "m.py", MANY_FIXES)
    findings = json.loads(einlint("--format", "json", "m.py").out)
    assert sum(1 for finding in findings if finding["fix"]) >= 4
    applied = apply_json_edits(MANY_FIXES, findings)
    einlint("--fix", "m.py")
    assert applied == path.read_text(encoding="utf-8") != MANY_FIXES


def test_sarif_fixes_column_kind_uris_and_notifications(project: Path, einlint) -> None:
    write(project, "dir with space/m#1.py", FIXABLE)
    write(project, "broken.py", "def f(:\n")
    run = einlint("--format", "sarif", ".")
    assert run.exit_code == 2
    (sarif_run,) = json.loads(run.out)["runs"]
    assert sarif_run["columnKind"] == "unicodeCodePoints"
    (result,) = sarif_run["results"]
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "dir%20with%20space/m%231.py"
    (fix,) = result["fixes"]
    (replacement,) = fix["artifactChanges"][0]["replacements"]
    assert replacement == {
        "deletedRegion": {"startLine": 2, "startColumn": 18, "endLine": 2, "endColumn": 29},
        "insertedContent": {"text": '"ij->ji"'},
    }
    (notification,) = sarif_run["invocations"][0]["toolExecutionNotifications"]
    assert notification["level"] == "error" and "does not parse" in notification["message"]["text"]
    assert notification["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "broken.py"


# --- 5. escaping at the output boundary ------------------------------------------------------------

NASTY = "we`|[]<>\x1b[31m,:%x.py"


def test_markup_and_control_characters_are_escaped_in_every_format(project: Path, einlint) -> None:
    write(project, NASTY, FIXABLE)
    for format_name in ("text", "json", "sarif", "github"):
        run = einlint("--format", format_name, NASTY)
        assert run.exit_code == 1, format_name
        assert "\x1b" not in run.out + run.err, format_name
    text = einlint(NASTY).out.splitlines()
    assert text[0].startswith("we`|[]<>\\x1b[31m,:%x.py:2:23: EIN006")
    (finding,) = json.loads(einlint("--format", "json", NASTY).out)
    assert finding["path"] == NASTY
    sarif = json.loads(einlint("--format", "sarif", NASTY).out)
    assert sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "we%60%7C%5B%5D%3C%3E%1B%5B31m%2C%3A%25x.py"
    (github,) = einlint("--format", "github", NASTY).out.splitlines()
    assert github.startswith("::warning file=we`|[]<>\\x1b[31m%2C%3A%25x.py,line=2,col=23,")


# --- documentation ---------------------------------------------------------------------------------


def test_every_flag_and_configuration_key_is_documented() -> None:
    from einlint.cli import build_parser
    from einlint.config import KNOWN_KEYS

    readme = (REPOSITORY_ROOT / "README.md").read_text(encoding="utf-8")
    flags = {option for action in build_parser()._actions for option in action.option_strings if option.startswith("--")}
    missing = sorted(flag for flag in flags - {"--help"} if f"`{flag}" not in readme)
    assert missing == []
    assert sorted(key for key in KNOWN_KEYS if f"`{key}`" not in readme) == []


def test_verify_extra_brings_numpy_and_matplotlib() -> None:
    from einlint.config import tomllib

    extras = tomllib.loads((REPOSITORY_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    names = {requirement.split(">")[0].split("=")[0].strip() for requirement in extras["verify"]}
    assert {"torch", "numpy", "matplotlib"} <= names
