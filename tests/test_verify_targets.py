"""What ``--verify`` runs for a fix is what its rule says the fix changes (``Fix.target``): the whole
expression that consumes the rewrite, before the fix and with the fix's edits applied inside it, with
folded temporaries read as their values. The verifier runs that and nothing else."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import fixture_files
from einlint.config import Settings
from einlint.diagnostics import Applicability, Diagnostic, Edit, Fix, FixTarget, diagnostic_from_dict, diagnostic_to_dict
from einlint.engine.cache import ResultCache
from einlint.engine.runner import RuleSet, lint_source
from einlint.engine.source import SourceText


def _fixes(code: str, text: str) -> list[Diagnostic]:
    settings = Settings(select=(code,), unsafe_fixes=True)
    diagnostics = lint_source(SourceText("example.py", text), settings, RuleSet.for_settings(settings)).diagnostics
    return [diagnostic for diagnostic in diagnostics if diagnostic.fix is not None]


# (rule, code, what the target is, the original expression, the rewritten one), each read by hand.
TARGETS = [
    pytest.param(
        "EIN006", "y = torch.einsum('ij,jk->...ik', a, b)\n", "the einsum call whose equation is rewritten",
        "torch.einsum('ij,jk->...ik', a, b)", "torch.einsum('ij,jk->ik', a, b)", id="EIN006",
    ),
    pytest.param(
        "EIN009", "y = torch.einsum('ij,jk', a, b)\n", "the einsum call whose equation is rewritten",
        "torch.einsum('ij,jk', a, b)", "torch.einsum('ij,jk->ik', a, b)", id="EIN009",
    ),
    pytest.param(
        "EIN201", "y = torch.einsum('ij,jk->ik', a.T, b)\n", "the einsum call that consumes the folded view",
        "torch.einsum('ij,jk->ik', a.T, b)", "torch.einsum('ji,jk->ik', a, b)", id="EIN201",
    ),
    pytest.param(
        "EIN202", "y = torch.matmul(a, b.transpose(-1, -2).contiguous())\n", "the matrix product that consumes the removed copy",
        "torch.matmul(a, b.transpose(-1, -2).contiguous())", "torch.matmul(a, b.transpose(-1, -2))", id="EIN202-matmul",
    ),
    pytest.param(
        "EIN202", "y = x @ w.T.contiguous()\n", "the matrix product that consumes the removed copy",
        "x @ w.T.contiguous()", "x @ w.T", id="EIN202-operator",
    ),
    pytest.param(
        "EIN202", "def f(q, k):\n    y = torch.einsum('bqd,bkd->bqk', q, k.transpose(1, 2).contiguous())\n",
        "the einsum call that consumes the removed copy",
        "torch.einsum('bqd,bkd->bqk', q, k.transpose(1, 2).contiguous())", "torch.einsum('bqd,bdk->bqk', q, k)", id="EIN202-einsum",
    ),
    pytest.param(
        "EIN202", "def f(q, k):\n    kt = k.transpose(1, 2).contiguous()\n    return torch.matmul(q, kt)\n",
        "the matrix product that reads kt without its copy",
        "torch.matmul(q, (k.transpose(1, 2).contiguous()))", "torch.matmul(q, (k.transpose(1, 2)))", id="EIN202-binding",
    ),
    pytest.param(
        "EIN104", "def f(query, key):\n    key_t = key.transpose(2, 3)\n    return torch.matmul(query, key_t)\n",
        "the product chain rewritten as one einsum",
        "torch.matmul(query, (key.transpose(2, 3)))", "torch.einsum('bhqd,bhkd->bhqk', query, key)", id="EIN104-folded-temporary",
    ),
    pytest.param(
        "EIN104", "def f(w):\n    x = torch.randn(3, 4)\n    x @= w.T\n    return x\n", "the product that @= binds, rewritten as one einsum",
        "x @ (w.T)", "torch.einsum('id,jd->ij', x, w)", id="EIN104-in-place",
    ),
    pytest.param(
        "EIN101", "y = (a.permute(1, 0, 2, 3) @ b).sum()\n", "the product chain rewritten as one einsum",
        "(a.permute(1, 0, 2, 3) @ b)", "torch.einsum('bhid,hbdj->hbij', a, b)", id="EIN101-own-parentheses",
    ),
    pytest.param(
        "EIN106", "a = torch.randn(4096, 64)\nb = torch.randn(64, 4096)\nc = torch.randn(4096, 64)\ny = a @ b @ c\n",
        "the matrix chain, multiplied in the cheaper order", "a @ b @ c", "a @ (b @ c)", id="EIN106",
    ),
    pytest.param(
        "EIN107", "def f(h, w, v, n):\n    x = h.view(n, 64)\n    y = v.view(64, n)\n    return x.mm(w).mm(y)\n",
        "the matrix chain replaced by multi_dot", "x.mm(w).mm(y)", "torch.linalg.multi_dot([x, w, y])", id="EIN107",
    ),
    pytest.param(
        "EIN121", "y = torch.einsum('bqd,bkd->bqk', q, k)\n", "the einsum call replaced by a matrix product",
        "torch.einsum('bqd,bkd->bqk', q, k)", "torch.bmm(q, k.transpose(-2, -1))", id="EIN121",
    ),
    pytest.param(
        "EIN301", "def f(xs):\n    a = torch.randn(3, 4)\n    b = torch.randn(4, 5)\n    for x in xs:\n        y = torch.einsum('ij,jk,kl->il', a, b, x.view(5, 6))\n",
        "the einsum call replaced by multi_dot",
        "torch.einsum('ij,jk,kl->il', a, b, x.view(5, 6))", "torch.linalg.multi_dot([a, b, x.view(5, 6)])", id="EIN301-multi-dot",
    ),
    pytest.param(
        "EIN301", "import opt_einsum\ndef f(xs, a, w):\n    for x in xs:\n        y = torch.einsum('bi,bj,ij->b', a, x, w)\n",
        "the einsum call replaced by a reused contraction", "torch.einsum('bi,bj,ij->b', a, x, w)",
        "(opt_einsum.contract_expression('bi,bj,ij->b', a.shape, x.shape, w.shape))(a, x, w, backend='torch')", id="EIN301-reused",
    ),
    pytest.param(
        "EIN302", "def f(x):\n    for i in 'ij':\n        y = torch.einsum(f'b{i}->b', x)\n", "the einsum call that reads the precomputed equation",
        "torch.einsum(f'b{i}->b', x)", "torch.einsum(({'i': 'bi->b', 'j': 'bj->b'})[i], x)", id="EIN302",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("code", "text", "description", "original", "rewritten"), TARGETS)
def test_each_rule_names_what_its_fix_changes(code: str, text: str, description: str, original: str, rewritten: str) -> None:
    (finding,) = _fixes(code, "import torch\n" + text)
    assert finding.fix is not None
    target = finding.fix.target
    assert target is not None
    assert (target.description, target.original, target.rewritten) == (description, original, rewritten)


def test_a_target_carries_the_operands_and_the_equation() -> None:
    (finding,) = _fixes("EIN202", "import torch\ny = torch.einsum('bqd,bkd->bqk', q, k.transpose(1, 2).contiguous())\n")
    assert finding.fix is not None and finding.fix.target is not None
    assert finding.fix.target.operands == ("q", "k.transpose(1, 2).contiguous()")
    assert finding.fix.target.equation == "bqd,bdk->bqk"


def test_every_fix_on_the_rule_fixtures_carries_a_target() -> None:
    missing = []
    for path in fixture_files():
        settings = Settings(select=(path.stem,), unsafe_fixes=True)
        source = SourceText.from_bytes(str(path), path.read_bytes())
        for diagnostic in lint_source(source, settings, RuleSet.for_settings(settings)).diagnostics:
            if diagnostic.fix is not None and diagnostic.fix.target is None:
                missing.append(f"{path.name}:{diagnostic.line}")
    assert missing == []


def test_the_target_survives_the_result_cache(tmp_path: Path) -> None:
    (finding,) = _fixes("EIN104", "import torch\ndef f(query, key):\n    key_t = key.transpose(2, 3)\n    return torch.matmul(query, key_t)\n")
    assert diagnostic_from_dict(json.loads(json.dumps(diagnostic_to_dict(finding)))).fix == finding.fix
    cache = ResultCache(tmp_path, "settings")
    cache.put("key", [finding])
    cache.save()
    (loaded,) = ResultCache(tmp_path, "settings").get("key", "example.py") or []
    assert loaded.fix is not None and loaded.fix.target == finding.fix.target


def test_a_damaged_target_in_the_cache_is_not_read(tmp_path: Path) -> None:
    (finding,) = _fixes("EIN009", "import torch\ny = torch.einsum('ij,jk', a, b)\n")
    stored = diagnostic_to_dict(finding)
    stored["fix"]["target"]["original"] = 3
    with pytest.raises(TypeError):
        diagnostic_from_dict(stored)


# --- The verifier runs the target ------------------------------------------------------------------


def _hand_made(text: str, old: str, new: str, target: FixTarget | None) -> Diagnostic:
    start = text.index(old)
    fix = Fix(Applicability.SAFE, (Edit(start, start + len(old), new),), target=target)
    return Diagnostic("f.py", 1, start, 1, start + len(old), "EIN999", "m", fix)


def test_a_fix_without_a_target_is_not_verifiable_and_nothing_runs() -> None:
    from einlint.verify.verifier import NOT_VERIFIABLE, verify_diagnostic

    text = "y = torch.matmul(a, b.mT.contiguous())\n"
    ran = []
    result = verify_diagnostic(_hand_made(text, "b.mT.contiguous()", "b.mT", None), text, verify=lambda *pair: ran.append(pair)).result
    assert (result.verdict, result.reason) == (NOT_VERIFIABLE, "the fix carries no verification target")
    assert ran == []


def test_the_verifier_runs_the_target_and_never_the_edited_operand_alone() -> None:
    # The consuming contraction calls something outside the allowlist: not verifiable. Checking the
    # edited operand instead (``b.contiguous()`` against ``b``) would always agree, and must not happen.
    pytest.importorskip("torch")
    from einlint.verify.verifier import NOT_VERIFIABLE, VerifyOptions, verify_diagnostic, verify_pair

    text = "y = torch.matmul(a.custom(), b.contiguous())\n"
    target = FixTarget("the matrix product that consumes the removed copy", "torch.matmul(a.custom(), b.contiguous())", "torch.matmul(a.custom(), b)")
    ran = []

    def recording(*arguments):
        ran.append(arguments[:2])
        return verify_pair(*arguments)

    options = VerifyOptions(profiles=("tiny",), timing=False, use_cache=False)
    result = verify_diagnostic(_hand_made(text, "b.contiguous()", "b", target), text, options, verify=recording).result
    assert ran == [("torch.matmul(a.custom(), b.contiguous())", "torch.matmul(a.custom(), b)")]
    assert result.verdict == NOT_VERIFIABLE and "allowlist" in result.reason
    assert result.target == "the matrix product that consumes the removed copy"


def _verified(code: str, text: str):
    pytest.importorskip("torch")
    from einlint.verify.verifier import VerifyOptions, verify_diagnostic

    (finding,) = _fixes(code, text)
    return verify_diagnostic(finding, text, VerifyOptions(profiles=("tiny",), timing=False, use_cache=False))


def test_a_dropped_contiguous_is_verified_in_the_contraction_that_consumes_it() -> None:
    from einlint.verify.verifier import EQUIVALENT

    result = _verified("EIN202", "import torch\ny = torch.matmul(a, b.transpose(-1, -2).contiguous())\n").result
    assert (result.verdict, result.target) == (EQUIVALENT, "the matrix product that consumes the removed copy")
    assert (result.original, result.rewritten) == ("torch.matmul(a, b.transpose(-1, -2).contiguous())", "torch.matmul(a, b.transpose(-1, -2))")
    assert result.operands == ("a", "b")


def test_a_folded_temporary_is_verified_as_its_value() -> None:
    from einlint.verify.verifier import AUTOCAST_DIFFERS, EQUIVALENT

    text = "import torch\ndef f(query, key):\n    key_t = key.transpose(2, 3)\n    return torch.matmul(query, key_t)\n"
    result = _verified("EIN104", text).result
    assert result.verdict in (EQUIVALENT, AUTOCAST_DIFFERS), result.reason
    assert result.original == "torch.matmul(query, (key.transpose(2, 3)))"


def test_the_verdict_names_what_was_verified(tmp_path: Path) -> None:
    from einlint.verify.report import render_table, to_json, write_markdown

    verification = _verified("EIN202", "import torch\ny = x @ w.T.contiguous()\n")
    table = render_table([verification], width=400)
    assert "verified: the matrix product that consumes the removed copy: x @ w.T.contiguous() -> x @ w.T" in table
    (fix,) = json.loads(to_json([verification]))["fixes"]
    assert (fix["target"], fix["original"], fix["rewritten"]) == ("the matrix product that consumes the removed copy", "x @ w.T.contiguous()", "x @ w.T")
    report = tmp_path / "report.md"
    write_markdown([verification], report)
    text = report.read_text(encoding="utf-8")
    assert "- verified: the matrix product that consumes the removed copy\n- original: `x @ w.T.contiguous()`\n- rewritten: `x @ w.T`" in text


def test_a_long_target_is_shortened_where_it_is_shown(tmp_path: Path) -> None:
    from einlint.verify.report import shortened, render_table, write_markdown

    assert shortened("a  +\n b") == "a + b"
    assert shortened("x" * 5000) == "x" * 160 + "... (4840 more characters)"
    verification = _verified("EIN202", "import torch\ny = x @ w.T.contiguous()\n")
    shown = replace(verification, result=replace(verification.result, original="x" * 5000))
    assert "x" * 161 not in render_table([shown], width=400).replace("\n", "").replace("│", "").replace(" ", "")
    write_markdown([shown], tmp_path / "report.md")
    assert "x" * 2001 not in (tmp_path / "report.md").read_text(encoding="utf-8")
