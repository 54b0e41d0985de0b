"""The command-line contract: exit codes, selection, output formats, fixing, noqa, configuration,
file discovery and bad input. The CLI runs in-process (see conftest.einlint)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from einlint.rules import all_rules

CLEAN = """\
import torch


def f(a, b):
    return torch.einsum("ij,jk->ik", a, b)
"""

# EIN003 at line 5, column 34 (the 'z').
UNKNOWN_LABEL = """\
import torch


def f(a, b):
    return torch.einsum("ij,jk->iz", a, b)
"""
UNKNOWN_LABEL_FINDING = "bad.py:5:34: EIN003 output label 'z' appears in no input term"

# EIN006 (safe fix) at line 5, column 33 (the first '.').
FIXABLE = """\
import torch


def f(a, b):
    return torch.einsum("ij,jk->...ik", a, b)
"""
FIXED = FIXABLE.replace('"ij,jk->...ik"', '"ij,jk->ik"')

# EIN003 at 5:31, EIN006 at 6:30 (safe fix), EIN009 at 7:23 (off by default).
MIXED = """\
import torch


def f(a, b):
    x = torch.einsum("ij,jk->iz", a, b)
    y = torch.einsum("ij,jk->...ik", a, b)
    z = torch.einsum("ij,jk", a, b)
    return x, y, z
"""
MIXED_EIN003 = (5, 31, "EIN003")
MIXED_EIN006 = (6, 30, "EIN006")
MIXED_EIN009 = (7, 23, "EIN009")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty directory, made the working directory, so paths in reports are short and relative."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(root: Path, relative: str, text: str | bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def found(run) -> list[tuple[int, int, str]]:
    """(line, col, code) of each finding in a text report."""
    result = []
    for line in run.finding_lines:
        _, line_number, col, rest = line.split(":", 3)
        result.append((int(line_number), int(col), rest.split()[0]))
    return result


# --- exit codes ------------------------------------------------------------------------------


def test_clean_file_exits_0(project: Path, einlint) -> None:
    write(project, "good.py", CLEAN)
    run = einlint("good.py")
    assert run.exit_code == 0
    assert run.out == "All checks passed.\n"
    assert run.err == ""


def test_finding_exits_1_with_the_exact_line(project: Path, einlint) -> None:
    write(project, "bad.py", UNKNOWN_LABEL)
    run = einlint("bad.py")
    assert run.exit_code == 1
    assert run.out.splitlines() == [UNKNOWN_LABEL_FINDING, "Found 1 finding."]


def test_default_path_is_the_current_directory(project: Path, einlint) -> None:
    write(project, "pkg/bad.py", UNKNOWN_LABEL)
    run = einlint()
    assert run.exit_code == 1
    assert run.finding_lines == [UNKNOWN_LABEL_FINDING.replace("bad.py", os.path.join(".", "pkg", "bad.py"))]


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param(["--no-such-flag", "."], id="unknown-flag"),
        pytest.param(["--select", "E501", "."], id="not-an-einlint-code"),
        pytest.param(["--ignore", "EIN0x", "."], id="malformed-prefix"),
        pytest.param(["--format", "xml", "."], id="unknown-format"),
        pytest.param(["--jobs", "-1", "."], id="negative-jobs"),
        pytest.param(["missing.py"], id="path-does-not-exist"),
    ],
)
def test_usage_errors_exit_2(arguments: list[str], project: Path, einlint) -> None:
    write(project, "good.py", CLEAN)
    run = einlint(*arguments)
    assert run.exit_code == 2
    assert run.err.strip()
    assert "Traceback" not in run.err


def test_missing_path_is_named_and_other_paths_still_run(project: Path, einlint) -> None:
    write(project, "bad.py", UNKNOWN_LABEL)
    run = einlint("missing.py", "bad.py")
    assert run.exit_code == 2
    assert run.finding_lines == [UNKNOWN_LABEL_FINDING]
    assert run.err.splitlines() == ["missing.py: error: no such file or directory"]


# --- selection ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        pytest.param([], [MIXED_EIN003, MIXED_EIN006], id="default-rules"),
        pytest.param(["--select", "EIN003"], [MIXED_EIN003], id="one-code"),
        pytest.param(["--select", "ein003"], [MIXED_EIN003], id="lower-case"),
        pytest.param(["--select", "EIN0"], [MIXED_EIN003, MIXED_EIN006], id="prefix-skips-off-by-default"),
        pytest.param(["--select", "EIN009"], [MIXED_EIN009], id="exact-code-enables-off-by-default"),
        pytest.param(["--select", "EIN0,EIN009"], [MIXED_EIN003, MIXED_EIN006, MIXED_EIN009], id="prefix-and-code"),
        pytest.param(["--select", "EIN003, EIN006"], [MIXED_EIN003, MIXED_EIN006], id="spaces-after-commas"),
        pytest.param(["--ignore", "EIN003"], [MIXED_EIN006], id="ignore-code"),
        pytest.param(["--ignore", "EIN00"], [], id="ignore-prefix"),
        pytest.param(["--select", "EIN009", "--ignore", "EIN0"], [MIXED_EIN009], id="more-specific-select-wins"),
        pytest.param(["--select", "EIN0", "--ignore", "EIN006"], [MIXED_EIN003], id="more-specific-ignore-wins"),
    ],
)
def test_select_and_ignore(arguments: list[str], expected: list[tuple[int, int, str]], project: Path, einlint) -> None:
    write(project, "mixed.py", MIXED)
    run = einlint(*arguments, "mixed.py")
    assert found(run) == expected
    assert run.exit_code == (1 if expected else 0)


# --- output formats ----------------------------------------------------------------------------


def test_text_marks_fixable_findings_and_summarises(project: Path, einlint) -> None:
    write(project, "mixed.py", MIXED)
    run = einlint("mixed.py")
    assert run.out.splitlines() == [
        "mixed.py:5:31: EIN003 output label 'z' appears in no input term",
        "mixed.py:6:30: EIN006 [*] output '...' stands for no dimensions: no input term has an ellipsis",
        "Found 2 findings. [*] 1 fixable with --fix.",
    ]


def test_json_schema(project: Path, einlint) -> None:
    write(project, "mixed.py", MIXED)
    run = einlint("--format", "json", "mixed.py")
    assert run.exit_code == 1
    assert run.err == ""
    findings = json.loads(run.out)
    assert findings == [
        {
            "path": "mixed.py",
            "line": 5,
            "col": 31,
            "end_line": 5,
            "end_col": 32,
            "code": "EIN003",
            "message": "output label 'z' appears in no input term",
            "fix": None,
        },
        {
            "path": "mixed.py",
            "line": 6,
            "col": 30,
            "end_line": 6,
            "end_col": 31,
            "code": "EIN006",
            "message": "output '...' stands for no dimensions: no input term has an ellipsis",
            "fix": {
                "applicability": "safe",
                "replacement": '"ij,jk->ik"',
                "assumptions": [],
                # The whole literal (columns 22-36 of line 6) is replaced, not just the flagged '...'.
                "edits": [{"content": '"ij,jk->ik"', "location": {"row": 6, "column": 22}, "end_location": {"row": 6, "column": 36}}],
            },
        },
    ]


def test_json_of_a_clean_run_is_an_empty_list(project: Path, einlint) -> None:
    write(project, "good.py", CLEAN)
    run = einlint("--format", "json", "good.py")
    assert (run.exit_code, json.loads(run.out)) == (0, [])


def test_sarif(project: Path, einlint) -> None:
    write(project, "mixed.py", MIXED)
    run = einlint("--format", "sarif", "mixed.py")
    assert run.exit_code == 1
    log = json.loads(run.out)
    assert log["version"] == "2.1.0"
    (sarif_run,) = log["runs"]
    assert sarif_run["tool"]["driver"]["name"] == "einlint"
    rule_ids = [rule["id"] for rule in sarif_run["tool"]["driver"]["rules"]]
    assert rule_ids == [rule.code for rule in all_rules()]
    results = sarif_run["results"]
    assert [result["ruleId"] for result in results] == ["EIN003", "EIN006"]
    location = results[0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "mixed.py"
    assert location["region"] == {"startLine": 5, "startColumn": 31, "endLine": 5, "endColumn": 32}
    assert results[0]["message"]["text"] == "output label 'z' appears in no input term"
    assert rule_ids[results[1]["ruleIndex"]] == "EIN006"
    # Each rule's help is the --explain text, so a code-scanning page shows the soundness section too.
    ein006 = sarif_run["tool"]["driver"]["rules"][results[1]["ruleIndex"]]
    assert ein006["help"]["text"].rstrip("\n") == einlint("--explain", "EIN006").out.rstrip("\n")
    assert "Soundness" in ein006["help"]["text"]
    assert ein006["helpUri"] == "https://pypi.org/project/einlint/"


def test_github_annotations(project: Path, einlint) -> None:
    write(project, "mixed.py", MIXED)
    run = einlint("--format", "github", "mixed.py")
    assert run.exit_code == 1
    assert run.out.splitlines() == [
        "::warning file=mixed.py,line=5,col=31,endLine=5,endColumn=32,title=EIN003::EIN003 output label 'z' appears in no input term",
        "::warning file=mixed.py,line=6,col=30,endLine=6,endColumn=31,title=EIN006::"
        "EIN006 output '...' stands for no dimensions: no input term has an ellipsis",
    ]


def test_statistics(project: Path, einlint) -> None:
    write(project, "mixed.py", MIXED)
    write(project, "bad.py", UNKNOWN_LABEL)
    run = einlint("--statistics", "bad.py", "mixed.py")
    assert "     2  EIN003  unknown-output-label" in run.out.splitlines()
    assert "     1  EIN006  unused-output-ellipsis" in run.out.splitlines()
    assert run.exit_code == 1


def test_statistics_keep_json_parseable(project: Path, einlint) -> None:
    write(project, "mixed.py", MIXED)
    run = einlint("--statistics", "--format", "json", "mixed.py")
    assert len(json.loads(run.out)) == 2
    assert "EIN003" in run.err


def test_list_rules(einlint) -> None:
    run = einlint("--list-rules")
    assert run.exit_code == 0
    lines = run.out.splitlines()
    assert [line.split()[0] for line in lines] == [rule.code for rule in all_rules()]
    for line, rule in zip(lines, all_rules()):
        assert line.split()[1] == rule.name
        assert line.endswith("(off by default)") != rule.enabled_by_default


# --- fixing ------------------------------------------------------------------------------------


def test_diff_prints_a_unified_diff_and_writes_nothing(project: Path, einlint) -> None:
    path = write(project, "fixable.py", FIXABLE)
    before = path.stat().st_mtime_ns
    run = einlint("--diff", "fixable.py")
    assert path.read_text(encoding="utf-8") == FIXABLE
    assert path.stat().st_mtime_ns == before
    assert run.out.splitlines() == [
        "--- a/fixable.py",
        "+++ b/fixable.py",
        "@@ -2,4 +2,4 @@",
        " ",
        " ",
        " def f(a, b):",
        '-    return torch.einsum("ij,jk->...ik", a, b)',
        '+    return torch.einsum("ij,jk->ik", a, b)',
    ]
    assert run.exit_code == 1
    assert "Would fix 1 finding." in run.err


def test_diff_of_a_clean_file_is_empty(project: Path, einlint) -> None:
    write(project, "good.py", CLEAN)
    run = einlint("--diff", "good.py")
    assert (run.exit_code, run.out) == (0, "")


def test_fix_writes_and_a_second_run_is_clean(project: Path, einlint) -> None:
    path = write(project, "fixable.py", FIXABLE)
    first = einlint("--fix", "fixable.py")
    assert first.exit_code == 0
    assert "Fixed 1 finding." in first.out
    assert path.read_text(encoding="utf-8") == FIXED
    second = einlint("fixable.py")
    assert (second.exit_code, second.out) == (0, "All checks passed.\n")


def test_fix_reports_what_it_could_not_fix(project: Path, einlint) -> None:
    path = write(project, "mixed.py", MIXED)
    run = einlint("--fix", "mixed.py")
    assert run.exit_code == 1
    assert found(run) == [MIXED_EIN003]
    assert '"ij,jk->ik"' in path.read_text(encoding="utf-8")


def test_fix_keeps_the_file_mode(project: Path, einlint) -> None:
    path = write(project, "fixable.py", FIXABLE)
    path.chmod(0o751)
    einlint("--fix", "fixable.py")
    assert path.read_text(encoding="utf-8") == FIXED
    assert stat.S_IMODE(path.stat().st_mode) == 0o751


def test_fix_leaves_no_temporary_files(project: Path, einlint) -> None:
    write(project, "fixable.py", FIXABLE)
    einlint("--fix", "fixable.py")
    assert sorted(p.name for p in project.iterdir()) == ["fixable.py"]


def test_fix_keeps_crlf_line_endings(project: Path, einlint) -> None:
    original = FIXABLE.replace("\n", "\r\n").encode() + b"# trailing comment\r\n"
    path = write(project, "crlf.py", original)
    run = einlint("--fix", "crlf.py")
    assert run.exit_code == 0
    assert path.read_bytes() == original.replace(b'"ij,jk->...ik"', b'"ij,jk->ik"')


def test_latin1_file_is_linted_and_fixed_in_its_own_encoding(project: Path, einlint) -> None:
    original = b'# -*- coding: latin-1 -*-\nimport torch\n# caf\xe9\nx = torch.einsum("ij->...ij", torch.randn(2, 3))  # d\xe9j\xe0 vu\n'
    path = write(project, "latin.py", original)
    run = einlint("latin.py")
    assert run.finding_lines == ["latin.py:4:23: EIN006 [*] output '...' stands for no dimensions: no input term has an ellipsis"]
    einlint("--fix", "latin.py")
    assert path.read_bytes() == original.replace(b'"ij->...ij"', b'"ij->ij"')


def test_utf8_bom_is_kept(project: Path, einlint) -> None:
    original = b"\xef\xbb\xbf" + FIXABLE.encode()
    path = write(project, "bom.py", original)
    einlint("--fix", "bom.py")
    assert path.read_bytes() == b"\xef\xbb\xbf" + FIXED.encode()


def test_non_ascii_text_before_the_equation_keeps_columns_in_characters(project: Path, einlint) -> None:
    # Columns count characters, as flake8's do: 'é' is one column although two UTF-8 bytes (byte count: 32).
    write(project, "accent.py", 'import torch\nr\u00e9sultat = torch.einsum("ij->iz", torch.randn(2, 3))\n')
    run = einlint("accent.py")
    assert found(run) == [(2, 31, "EIN003")]


# --- noqa --------------------------------------------------------------------------------------

NOQA_CASES = """\
import torch


def f(a, b):
    p = torch.einsum("ij,jk->iz", a, b)  # noqa
    q = torch.einsum("ij,jk->iz", a, b)  # noqa: EIN003
    r = torch.einsum("ij,jk->iz", a, b)  # noqa: EIN0
    s = torch.einsum("ij,jk->iz", a, b)  # NOQA:EIN006,EIN003
    t = torch.einsum("ij,jk->iz", a, b)  # noqa: EIN006
    u = torch.einsum("ij,jk->iz", a, b)  # noqa: E501
    w = torch.einsum("ij,jk->iz", a, b)  # a comment that mentions noqa in passing
    x = torch.einsum(
        "ij,jk->iz",  # noqa: EIN003
        a,
        b,
    )
    return p, q, r, s, t, u, w, x
"""


def test_noqa(project: Path, einlint) -> None:
    write(project, "noqa_cases.py", NOQA_CASES)
    run = einlint("noqa_cases.py")
    # Only a code list that does not cover EIN003 (lines 9 and 10) or no noqa at all (line 11) reports.
    assert found(run) == [(9, 31, "EIN003"), (10, 31, "EIN003"), (11, 31, "EIN003")]


# --- configuration -----------------------------------------------------------------------------


def test_config_select(project: Path, einlint) -> None:
    write(project, "pyproject.toml", '[tool.einlint]\nselect = ["EIN009"]\n')
    write(project, "mixed.py", MIXED)
    assert found(einlint("mixed.py")) == [MIXED_EIN009]


def test_config_ignore(project: Path, einlint) -> None:
    write(project, "pyproject.toml", '[tool.einlint]\nignore = ["EIN006"]\n')
    write(project, "mixed.py", MIXED)
    assert found(einlint("mixed.py")) == [MIXED_EIN003]


def test_cli_select_overrides_config(project: Path, einlint) -> None:
    write(project, "pyproject.toml", '[tool.einlint]\nselect = ["EIN009"]\n')
    write(project, "mixed.py", MIXED)
    assert found(einlint("--select", "EIN003", "mixed.py")) == [MIXED_EIN003]


def test_cli_ignore_overrides_config(project: Path, einlint) -> None:
    write(project, "pyproject.toml", '[tool.einlint]\nignore = ["EIN003"]\n')
    write(project, "mixed.py", MIXED)
    assert found(einlint("--ignore", "EIN006", "mixed.py")) == [MIXED_EIN003]


def test_config_exclude(project: Path, einlint) -> None:
    write(project, "pyproject.toml", '[tool.einlint]\nexclude = ["generated", "legacy_*.py"]\n')
    write(project, "src/generated/bad.py", UNKNOWN_LABEL)
    write(project, "src/legacy_model.py", UNKNOWN_LABEL)
    write(project, "src/model.py", UNKNOWN_LABEL)
    run = einlint("src")
    assert [line.split(":")[0] for line in run.finding_lines] == [os.path.join("src", "model.py")]


def test_config_per_file_ignores(project: Path, einlint) -> None:
    write(project, "pyproject.toml", '[tool.einlint.per-file-ignores]\n"tests/*" = ["EIN003"]\n"scripts/*" = ["EIN0"]\n')
    write(project, "tests/test_model.py", MIXED)
    write(project, "scripts/run.py", MIXED)
    write(project, "model.py", MIXED)
    run = einlint(".")
    by_file = sorted((line.split(":")[0], line.split()[1]) for line in run.finding_lines)
    assert by_file == [
        (os.path.join(".", "model.py"), "EIN003"),
        (os.path.join(".", "model.py"), "EIN006"),
        (os.path.join(".", "tests", "test_model.py"), "EIN006"),
    ]


def test_config_is_found_from_a_subdirectory(project: Path, monkeypatch: pytest.MonkeyPatch, einlint) -> None:
    write(project, "pyproject.toml", '[tool.einlint]\nselect = ["EIN009"]\n')
    write(project, "pkg/sub/mixed.py", MIXED)
    monkeypatch.chdir(project / "pkg")
    assert found(einlint("sub/mixed.py")) == [MIXED_EIN009]


def test_pyproject_without_an_einlint_table_is_skipped(project: Path, einlint) -> None:
    write(project, "pyproject.toml", '[tool.einlint]\nselect = ["EIN009"]\n')
    write(project, "pkg/pyproject.toml", '[project]\nname = "pkg"\n')
    write(project, "pkg/mixed.py", MIXED)
    assert found(einlint("pkg/mixed.py")) == [MIXED_EIN009]


@pytest.mark.parametrize(
    "table",
    [
        pytest.param('[tool.einlint]\nselct = ["EIN003"]\n', id="unknown-key"),
        pytest.param('[tool.einlint]\nselect = ["X1"]\n', id="bad-code"),
        pytest.param('[tool.einlint]\nassume = ["everything-is-fine"]\n', id="unknown-assumption"),
        pytest.param("[tool.einlint\nselect = 1\n", id="not-toml"),
    ],
)
def test_bad_config_is_a_one_line_error(table: str, project: Path, einlint) -> None:
    write(project, "pyproject.toml", table)
    write(project, "mixed.py", MIXED)
    run = einlint("mixed.py")
    assert run.exit_code == 2
    assert len(run.err.strip().splitlines()) == 1
    assert "pyproject.toml" in run.err or "X1" in run.err


# --- discovery ---------------------------------------------------------------------------------


def test_default_excluded_directories(project: Path, einlint) -> None:
    for directory in (".venv", "venv", "build", "__pycache__", ".git", ".tox", "node_modules"):
        write(project, f"{directory}/bad.py", UNKNOWN_LABEL)
        write(project, f"src/{directory}/bad.py", UNKNOWN_LABEL)
    write(project, "src/model.py", UNKNOWN_LABEL)
    write(project, "src/notes.txt", UNKNOWN_LABEL)
    run = einlint(".")
    assert [line.split(":")[0] for line in run.finding_lines] == [os.path.join(".", "src", "model.py")]


def test_a_file_named_explicitly_is_linted_even_in_an_excluded_directory(project: Path, einlint) -> None:
    write(project, "build/bad.py", UNKNOWN_LABEL)
    run = einlint("build/bad.py")
    assert run.finding_lines == [UNKNOWN_LABEL_FINDING.replace("bad.py", "build/bad.py")]


def test_a_file_named_explicitly_is_linted_whatever_its_suffix(project: Path, einlint) -> None:
    write(project, "script", UNKNOWN_LABEL)
    assert einlint("script").finding_lines == [UNKNOWN_LABEL_FINDING.replace("bad.py", "script")]


def test_symlink_loop_ends(project: Path, einlint) -> None:
    write(project, "pkg/bad.py", UNKNOWN_LABEL)
    (project / "pkg" / "loop").symlink_to(project / "pkg", target_is_directory=True)
    run = einlint("pkg")
    assert run.finding_lines == [UNKNOWN_LABEL_FINDING.replace("bad.py", os.path.join("pkg", "bad.py"))]


def test_many_files_in_worker_processes_match_one_process(project: Path, einlint) -> None:
    # Enough files for the process pool; the report is the same, in path order.
    for index in range(12):
        write(project, f"pkg/m{index:02d}.py", MIXED if index % 2 else FIXABLE)
    pooled = einlint("--jobs", "2", "pkg")
    single = einlint("--jobs", "1", "pkg")
    assert pooled.out == single.out
    assert len(pooled.finding_lines) == 6 * 2 + 6
    assert pooled.finding_lines == sorted(pooled.finding_lines)


def test_fix_in_worker_processes(project: Path, einlint) -> None:
    paths = [write(project, f"pkg/m{index:02d}.py", FIXABLE) for index in range(12)]
    run = einlint("--jobs", "2", "--fix", "pkg")
    assert run.exit_code == 0
    assert "Fixed 12 findings." in run.out
    assert all(path.read_text(encoding="utf-8") == FIXED for path in paths)


# --- bad input ---------------------------------------------------------------------------------


def test_unparsable_and_undecodable_files_each_give_one_line(project: Path, einlint) -> None:
    write(project, "a_broken.py", 'import torch\n\ndef f(a:\n    return torch.einsum("ij->ji", a)\n')
    write(project, "b_bad.py", UNKNOWN_LABEL)
    write(project, "c_binary.py", b"import torch\nx = 1\ny = '\xff\xfe\xfa'\n")
    write(project, "d_nul.py", b"import torch\x00\n")
    run = einlint(".")
    assert run.exit_code == 2
    assert "Traceback" not in run.err
    errors = run.err.splitlines()
    assert len(errors) == 3, errors
    assert errors[0].startswith(os.path.join(".", "a_broken.py") + ": ")
    assert errors[1].startswith(os.path.join(".", "c_binary.py") + ": ")
    assert errors[2].startswith(os.path.join(".", "d_nul.py") + ": ")
    assert "parse" in errors[0]
    assert run.finding_lines == [UNKNOWN_LABEL_FINDING.replace("bad.py", os.path.join(".", "b_bad.py"))]


def test_undecodable_first_line_names_the_file(project: Path, einlint) -> None:
    write(project, "latin_without_coding.py", b"x = 'caf\xe9'  # einsum\n")
    run = einlint("latin_without_coding.py")
    assert run.exit_code == 2
    assert run.err.startswith("latin_without_coding.py: ")
    assert len(run.err.splitlines()) == 1


def test_fix_leaves_an_unparsable_file_untouched(project: Path, einlint) -> None:
    text = 'import torch\n\ndef f(a:\n    return torch.einsum("ij->...ji", a)\n'
    path = write(project, "broken.py", text)
    run = einlint("--fix", "broken.py")
    assert run.exit_code == 2
    assert path.read_text(encoding="utf-8") == text


def test_summary_does_not_claim_success_when_a_file_was_not_checked(project: Path, einlint) -> None:
    write(project, "broken.py", 'import torch\n\ndef f(a:\n    return torch.einsum("ij->ji", a)\n')
    run = einlint("broken.py")
    assert run.exit_code == 2
    assert "All checks passed" not in run.out
