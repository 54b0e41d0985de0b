"""Text from the user's files pushed through every output of the verifier: the rich table, JSON, the
Markdown report and stderr. `` ` | [ ] < > `` and ESC must come out inert: no broken code span or
table row, no HTML, no rich markup error, no raw control character."""

from __future__ import annotations

import json
import re
from pathlib import Path

import libcst as cst
import pytest

from einlint.diagnostics import Applicability
from einlint.rules.base import FixProposal, Rule, Triggers, VerificationTarget
from einlint.verify.escaping import markdown_cell, markdown_code, markdown_text, printable
from einlint.verify.report import render_table, summary, to_json, write_markdown
from einlint.verify.verifier import NOT_EQUIVALENT, NOT_VERIFIABLE, FixVerification, PairVerdict

HOSTILE = "a`b``c|d[/]e[bold]f<script>g</script>h\x1b[31mi\x1b]0;title\x07j\u202ek"
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _hostile_fix() -> FixVerification:
    result = PairVerdict(
        NOT_VERIFIABLE, f"the name {HOSTILE!r} is neither an operand nor torch", HOSTILE, HOSTILE + "`",
        notes=(HOSTILE,), device="cpu (test)", target="the edited expression",
    )  # fmt: skip
    return FixVerification(f"dir[/]/{HOSTILE}.py", 3, 1, "EIN101", "unsafe", (HOSTILE,), (("a", "b"),), result)


def test_code_spans_hold_any_backticks() -> None:
    assert markdown_code("plain") == "`plain`"
    assert markdown_code("a`b") == "``a`b``"
    assert markdown_code("`x``") == "``` `x`` ```"
    assert markdown_code("a\x1bb") == "`a\\x1bb`"


def test_running_text_and_cells_escape_markup() -> None:
    assert markdown_text("<b>|[x](y)*z*_") == "\\<b\\>\\|\\[x\\](y)\\*z\\*\\_"
    assert markdown_cell("a|b`c", code=True) == "``a\\|b`c``"
    assert printable("x\x1b[2J\r\n\u202e") == "x\\x1b[2J\\x0d\\x0a\\u202e"


def test_the_table_survives_markup_and_control_characters() -> None:
    fix = _hostile_fix()
    table = render_table([fix], width=400)  # a path with "[/]" once raised rich's MarkupError
    assert not RAW_CONTROL.search(table)
    assert "[/]" in table and "[bold]" in table and "\\x1b[31m" in table
    colored = render_table([fix], width=400, color=True)
    # Colour codes are einlint's own; none of the source's escapes got through.
    assert "\x1b[31mi" not in colored and "\x1b]0;" not in colored


def test_json_escapes_control_characters() -> None:
    document = to_json([_hostile_fix()])
    assert not RAW_CONTROL.search(document)
    assert json.loads(document)["fixes"][0]["original"] == HOSTILE


def _markdown_line(report: str, prefix: str) -> str:
    return next(line for line in report.splitlines() if line.startswith(prefix))


def test_the_markdown_report_keeps_its_structure(tmp_path: Path) -> None:
    fixes = [_hostile_fix(), FixVerification("ok.py", 1, 1, "EIN111", "safe", (), (), PairVerdict(NOT_EQUIVALENT, "x|y", "a", "b"))]
    write_markdown(fixes, tmp_path / "report.md")
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert not RAW_CONTROL.search(report)
    # Raw only inside code spans, where CommonMark shows it as text.
    raw = [line for line in report.splitlines() if "<script>" in line]
    assert raw and all(line.startswith(("- original: ```", "- rewritten: ```")) for line in raw), raw
    assert "\\<script\\>" in report
    rows = [line for line in report.splitlines() if line.startswith("| ")]
    header_cells = rows[0].count(" | ")
    for row in rows:
        # Every unescaped "|" is a cell border: each row has as many as the header.
        assert len(re.findall(r"(?<!\\)\|", row)) == header_cells + 2, row
    original = _markdown_line(report, "- original: ")
    fence = original.removeprefix("- original: ").split("a", 1)[0]
    assert fence == "```" and original.endswith("```")  # longer than the "``" inside
    rewritten = _markdown_line(report, "- rewritten: ")
    assert rewritten.endswith("` ```")  # a trailing backtick inside is padded away from the fence
    assert "\\[/\\]" in _markdown_line(report, "### ")


def test_the_summary_counts_cached_verdicts() -> None:
    cached = FixVerification("a.py", 1, 1, "EIN101", "safe", (), (), PairVerdict(NOT_VERIFIABLE, "r", "a", "b", cached=True))
    assert summary([cached]) == "Verified 1 fix: 1 not verifiable, 1 from the cache."


class HostileRewrite(Rule):
    """Test-only: offers a fix whose text carries backticks, pipes, brackets, HTML and ESC."""

    code = "EIN993"
    name = "test-only-hostile-rewrite"
    triggers = Triggers(names=frozenset({"einsum"}))

    def visit_Call(self, node: cst.Call) -> None:
        if self.context.qualified_name(node.func) == "torch.einsum" and len(node.args) == 2:
            operand = self.context.unit.code_for(node.args[1].value)
            replacement = f"torch.einsum('ij->ji', {operand})[{HOSTILE_LITERAL}]"
            self.report(node, "hostile on purpose", FixProposal(node, replacement, Applicability.SAFE, target=VerificationTarget("the einsum call", node)))


HOSTILE_LITERAL = repr(HOSTILE).replace("\\x1b", "\x1b")  # a real ESC inside the string literal


def test_hostile_text_through_the_verify_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, einlint, add_rule) -> None:
    pytest.importorskip("torch")
    from einlint.verify import command

    monkeypatch.setattr(command, "CLI_PROFILES", ("tiny",))
    monkeypatch.setattr(command, "CLI_MIN_RUN_TIME", 0.001)
    add_rule(HostileRewrite)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "odd[").mkdir()
    path = "odd[/]name`|<b>.py"
    (tmp_path / path).write_text('import torch\n\n\ndef f(x):\n    return torch.einsum("ij->ji", x)\n', encoding="utf-8")
    for arguments in (["--verify"], ["--verify", "--format", "json"], ["--verify", "--verify-report", "report.md"]):
        run = einlint(*arguments, "--select", "EIN993", path)
        assert run.exit_code == 0, run.err  # the fix is not verifiable, which is no finding
        assert not RAW_CONTROL.search(run.out) and not RAW_CONTROL.search(run.err)
        assert "EIN993" in run.out and "not verifiable" in run.out
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert not RAW_CONTROL.search(report)
    row = next(line for line in report.splitlines() if "EIN993" in line and line.startswith("| "))
    assert len(re.findall(r"(?<!\\)\|", row)) == 13 and "odd\\[/\\]name\\`\\|\\<b\\>.py:5:12" in row
