"""Linting with observations: an unsafe fix whose every assumption held in every recorded execution is
an observed fix, one that an execution contradicted is withdrawn (the message says what was seen), a
statement that never ran keeps its unsafe fix and says so, and an edited statement's old
observations are ignored. The observations here are written by hand, as ``einlint observe`` writes
them (tests/test_observe_run.py records real ones)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from einlint.diagnostics import Applicability, Edit, Fix
from einlint.observe import observations as model
from einlint.observe.judgement import ASSUMPTION_CHECKS, judge_assumptions
from einlint.observe.sites import Operand, Rewrite, fix_operands, statement_hash

MODEL = """\
import torch


def scores(q, k):
    s = q.permute(0, 2, 1, 3) @ k
    return s


def unused(x, w):
    return x.permute(0, 2, 1, 3) @ w
"""
SITE_LINE = 5
SITE_TEXT = "    s = q.permute(0, 2, 1, 3) @ k"
FIXED_SITE = "    s = torch.einsum('bqhd,bhdk->bhqk', q, k)"
REWRITE = "bqhd,bhdk->bhqk(q, k)"
# What the recorder works out from the operands and the result: equal sizes, the same result layout.
HELD_REWRITE = {REWRITE: {"executions": 3, "size_mismatches": {}, "layouts_compared": 3, "layouts_same": 3}}


def facts(class_name: str = "torch.Tensor", rank: int | None = 4, dtype: str = "torch.float32", executions: int = 3, **changes) -> dict:
    tensor = rank is not None
    data = {
        "reads": executions,
        "unreadable": 0,
        "classes": {class_name: executions},
        "ranks": {str(rank): executions} if tensor else {},
        "dtypes": {dtype: executions} if tensor else {},
        "devices": {"cpu": executions} if tensor else {},
        "layouts": {"torch.strided": executions} if tensor else {},
        "contiguous": {"false": executions} if tensor else {},
        "requires_grad": {"false": executions} if tensor else {},
        "shapes": [[2, 3, 4, 5][:rank]] if tensor else [],
        "shapes_truncated": False,
        "strides": [],
        "strides_truncated": False,
    }
    data.update(changes)
    return data


def site(operands: dict, line: int = SITE_LINE, text: str = SITE_TEXT, executions: int = 3, seconds: float = 0.25, **changes) -> dict:
    data = {
        "path": "pkg/model.py",
        "line": line,
        "hash": statement_hash([text]),
        "executions": executions,
        "raised": 0,
        "seconds": seconds,
        "grad_enabled": {"true": executions},
        "autocast": {"off": executions},
        "dtype_mismatches": 0,
        "operands": operands,
        "result": None,
        "rewrites": HELD_REWRITE if line == SITE_LINE else {},
    }
    data.update(changes)
    return data


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\n', encoding="utf-8")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "model.py").write_text(MODEL, encoding="utf-8")
    return tmp_path


def record(project: Path, *sites: dict, where: str = ".einlint/observations.json") -> Path:
    path = project / where
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"einlint-observations": 1, "sites": list(sites)}), encoding="utf-8")
    return path


def findings(einlint, *args: str) -> dict[int, dict]:
    run = einlint("--format", "json", *args, "pkg")
    assert run.exit_code == 1, run.err
    return {item["line"]: item for item in json.loads(run.out)}


def test_fix_whose_assumptions_held_is_observed(project: Path, einlint) -> None:
    record(project, site({"q": facts(), "k": facts()}))
    found = findings(einlint)
    observed = found[SITE_LINE]
    assert observed["fix"]["applicability"] == "observed"
    assert observed["fix"]["assumptions"] == ["matching-ranks", "result-layout", "matching-sizes", "tensor-operands"]
    assert observed["observed"] == {
        "status": "observed", "executions": 3, "seconds": 0.25, "raised": 0, "classes": ["torch.Tensor"],
        "ranks": [4], "dtypes": ["torch.float32"], "devices": ["cpu"], "reason": None,
    }  # fmt: skip
    # The site that never ran: still unsafe (hidden without --unsafe-fixes), and it says so.
    assert found[10]["fix"] is None
    assert found[10]["message"].endswith("(fix not observed: the statement did not run under einlint observe)")
    assert found[10]["observed"]["status"] == "not observed"
    assert findings(einlint, "--unsafe-fixes")[10]["fix"]["applicability"] == "unsafe"


def test_text_marks_observed_fixes_and_what_was_measured(project: Path, einlint) -> None:
    record(project, site({"q": facts(), "k": facts()}))
    run = einlint("pkg")
    assert run.finding_lines[0].startswith("pkg/model.py:5:9: EIN101 [observed] matmul of a reordered operand")
    assert run.finding_lines[0].endswith("(observed: 3 executions, 250.0 ms)")
    assert run.out.splitlines()[-1] == "Found 2 findings. [observed] 1 fixable with --fix --observed-fixes. 1 more fixable with --fix --unsafe-fixes."


def test_only_observed_fixes_flag_or_config_applies_them(project: Path, einlint) -> None:
    record(project, site({"q": facts(), "k": facts()}))
    source = project / "pkg" / "model.py"
    einlint("--fix", "pkg")
    assert source.read_text(encoding="utf-8") == MODEL
    einlint("--fix", "--observed-fixes", "pkg")
    assert source.read_text(encoding="utf-8") == MODEL.replace(SITE_TEXT, FIXED_SITE)
    source.write_text(MODEL, encoding="utf-8")
    with open(project / "pyproject.toml", "a", encoding="utf-8") as handle:
        handle.write("\n[tool.einlint]\nobserved-fixes = true\n")
    einlint("--fix", "pkg")
    # The unobserved site's unsafe fix is never applied.
    assert source.read_text(encoding="utf-8") == MODEL.replace(SITE_TEXT, FIXED_SITE)


@pytest.mark.parametrize(
    ("k_facts", "said"),
    [
        (facts("numpy.ndarray", rank=None), "`k` as numpy.ndarray in 3 of 3 executions"),
        (facts("mylib.StructuredMatrix", rank=None), "`k` as mylib.StructuredMatrix in 3 of 3 executions"),
        (facts(rank=3), "`k` with 3 dimensions where the rewrite needs 4, in 3 of 3 executions"),
    ],
)
def test_contradicting_observation_withdraws_the_fix(project: Path, einlint, k_facts: dict, said: str) -> None:
    record(project, site({"q": facts(), "k": k_facts}))
    withdrawn = findings(einlint, "--unsafe-fixes")[SITE_LINE]
    assert withdrawn["fix"] is None
    assert withdrawn["message"].endswith(f"[fix withdrawn: observed {said}]")
    assert withdrawn["observed"]["status"] == "withdrawn"
    assert withdrawn["observed"]["reason"] == said


def test_one_contradicting_run_among_many_withdraws(project: Path, einlint) -> None:
    mixed = facts(executions=5, classes={"torch.Tensor": 4, "numpy.ndarray": 1}, ranks={"4": 4})
    record(project, site({"q": facts(executions=5), "k": mixed}, executions=5))
    assert findings(einlint)[SITE_LINE]["message"].endswith("[fix withdrawn: observed `k` as numpy.ndarray in 1 of 5 executions]")


def test_parameter_is_a_tensor_but_another_subclass_is_not(project: Path, einlint) -> None:
    record(project, site({"q": facts("torch.nn.parameter.Parameter"), "k": facts()}))
    assert findings(einlint)[SITE_LINE]["fix"]["applicability"] == "observed"


def test_operand_not_read_in_every_execution_is_not_confirmed(project: Path, einlint) -> None:
    record(project, site({"q": facts(), "k": facts(executions=2)}))
    unconfirmed = findings(einlint, "--unsafe-fixes")[SITE_LINE]
    assert unconfirmed["fix"]["applicability"] == "unsafe"
    assert unconfirmed["observed"]["status"] == "unconfirmed"
    assert unconfirmed["observed"]["reason"] == "`k` was not read in every execution"


def test_edited_statement_drops_its_observations(project: Path, einlint) -> None:
    record(project, site({"q": facts(), "k": facts()}))
    source = project / "pkg" / "model.py"
    source.write_text(MODEL.replace(SITE_TEXT, "    s = q.permute(0, 2, 1, 3) @ k  # edited"), encoding="utf-8")
    edited = findings(einlint)[SITE_LINE]
    assert edited["fix"] is None
    assert edited["observed"]["status"] == "not observed"
    # A moved statement (same text, another line) is another site too.
    source.write_text("\n" + MODEL, encoding="utf-8")
    assert findings(einlint)[SITE_LINE + 1]["observed"]["status"] == "not observed"


def test_sort_by_time_puts_the_costly_finding_first(project: Path, einlint) -> None:
    record(
        project,
        site({"q": facts(), "k": facts()}, seconds=0.5),
        site({"x": facts(), "w": facts()}, line=10, text="    return x.permute(0, 2, 1, 3) @ w", seconds=2.0),
    )
    by_position = [line.split(":")[1] for line in einlint("pkg").finding_lines]
    by_time = [line.split(":")[1] for line in einlint("--sort", "time", "pkg").finding_lines]
    assert by_position == ["5", "10"]
    assert by_time == ["10", "5"]


def test_observations_path_flag_and_damaged_files(project: Path, einlint) -> None:
    elsewhere = record(project, site({"q": facts(), "k": facts()}), where="runs/obs.json")
    # Wherever the file is kept, its paths are relative to the project's root.
    assert findings(einlint, "--observations", str(elsewhere))[SITE_LINE]["observed"]["status"] == "observed"
    assert "observed" not in findings(einlint)[SITE_LINE]  # the default file does not exist
    missing = einlint("--observations", "nope.json", "pkg")
    assert missing.exit_code == 2
    assert missing.err.strip() == "einlint: error: --observations: no such file: nope.json"
    damaged = project / ".einlint" / "observations.json"
    damaged.parent.mkdir()
    damaged.write_text("{not json", encoding="utf-8")
    run = einlint("pkg")
    assert run.exit_code == 1
    assert len(run.finding_lines) == 2
    assert run.err.startswith("einlint: warning: ") and run.err.strip().endswith("observations not used")
    assert len(run.err.strip().splitlines()) == 1


def test_no_observations_file_changes_nothing(project: Path, einlint) -> None:
    found = findings(einlint, "--unsafe-fixes")
    assert found[SITE_LINE]["fix"]["applicability"] == "unsafe"
    assert "observed" not in found[SITE_LINE]
    assert "observed" not in found[SITE_LINE]["message"]


OPERANDS = Rewrite("ij,...jk", (Operand("a", ("a",), 2), Operand("b", ("b",), 2, ellipsis=True)))


def observation(operands: dict, **changes) -> model.SiteObservation:
    return model.SiteObservation.from_json(site(operands, **changes))


@pytest.mark.parametrize("name", ["slower-rewrite", "a-name-added-later"])
def test_assumption_without_a_check_is_never_confirmed(name: str) -> None:
    assert name not in ASSUMPTION_CHECKS
    held = observation({"a": facts(rank=2), "b": facts(rank=5)})
    verdict = judge_assumptions(("tensor-operands", name), held, OPERANDS)
    assert verdict.held is None
    assert verdict.detail == f"`{name}` cannot be confirmed by observation"


def test_rank_fits_the_term_exactly_or_with_an_ellipsis() -> None:
    assert judge_assumptions(("operand-ranks",), observation({"a": facts(rank=2), "b": facts(rank=2)}), OPERANDS).held is True
    assert judge_assumptions(("operand-ranks",), observation({"a": facts(rank=2), "b": facts(rank=1)}), OPERANDS).held is False
    assert judge_assumptions(("operand-ranks",), observation({"a": facts(rank=3), "b": facts(rank=2)}), OPERANDS).held is False


def test_float_dtypes() -> None:
    floats = observation({"a": facts(rank=2), "b": facts(rank=2, dtype="torch.bfloat16")})
    assert judge_assumptions(("float-dtypes",), floats, OPERANDS).held is True
    integral = observation({"a": facts(rank=2), "b": facts(rank=2, dtype="torch.int64")})
    verdict = judge_assumptions(("float-dtypes",), integral, OPERANDS)
    assert (verdict.held, verdict.detail) == (False, "`b` with dtype torch.int64 in 3 of 3 executions")
    mixed = observation({"a": facts(rank=2), "b": facts(rank=2)}, dtype_mismatches=1)
    assert judge_assumptions(("float-dtypes",), mixed, OPERANDS).held is None
    complex_ = observation({"a": facts(rank=2, dtype="torch.complex64"), "b": facts(rank=2)})
    assert judge_assumptions(("float-dtypes",), complex_, OPERANDS).held is None


def test_no_autocast_and_fixed_shapes() -> None:
    autocast = observation({"a": facts(rank=2), "b": facts(rank=2)}, autocast={"off": 2, "cpu:torch.bfloat16": 1})
    verdict = judge_assumptions(("no-autocast",), autocast, OPERANDS)
    assert (verdict.held, verdict.detail) == (False, "autocast on (cpu:torch.bfloat16) in 1 of 3 executions")
    assert judge_assumptions(("no-autocast",), observation({}), OPERANDS).held is True
    one_shape = observation({"a": facts(rank=2), "b": facts(rank=2)})
    assert judge_assumptions(("fixed-shapes-in-loops",), one_shape, OPERANDS).held is True
    two_shapes = observation({"a": facts(rank=2, shapes=[[2, 3], [4, 3]]), "b": facts(rank=2)})
    assert judge_assumptions(("fixed-shapes-in-loops",), two_shapes, OPERANDS).held is False


@pytest.mark.parametrize(
    ("rewrite", "held", "detail"),
    [
        ({"executions": 3, "size_mismatches": {}, "layouts_compared": 3, "layouts_same": 3}, True, ""),
        (
            {"executions": 3, "size_mismatches": {"j": 1}, "layouts_compared": 3, "layouts_same": 3},
            False,
            "different sizes for the dimensions labelled j in `ij,...jk` in 1 of 3 executions",
        ),
        ({"executions": 2, "size_mismatches": {}, "layouts_compared": 2, "layouts_same": 2}, None, "the operands' sizes were not recorded in every execution"),
        (None, None, "the operands' sizes were not recorded in every execution"),
    ],
)
def test_matching_sizes(rewrite: dict | None, held: bool | None, detail: str) -> None:
    recorded = observation({"a": facts(rank=2), "b": facts(rank=2)}, rewrites={OPERANDS.key: rewrite} if rewrite else {})
    verdict = judge_assumptions(("matching-sizes",), recorded, OPERANDS)
    assert (verdict.held, verdict.detail) == (held, detail)


@pytest.mark.parametrize("name", ["result-layout", "contiguous-result"])
def test_result_layout_held_only_where_every_result_was_laid_out_alike(name: str) -> None:
    def verdict(compared: int, same: int, raised: int = 0):
        rewrite = {"executions": 3, "size_mismatches": {}, "layouts_compared": compared, "layouts_same": same}
        recorded = observation({"a": facts(rank=2), "b": facts(rank=2)}, rewrites={OPERANDS.key: rewrite}, raised=raised)
        return judge_assumptions((name,), recorded, OPERANDS)

    assert verdict(3, 3).held is True
    assert verdict(2, 2, raised=1).held is True  # an execution that raised returned nothing
    assert (verdict(3, 2).held, verdict(3, 2).detail) == (None, "the rewrite's result would have other strides in 1 of 3 executions")
    assert verdict(2, 2).held is None
    # Not an einsum (multi_dot): nothing to work the layout out from.
    other = Rewrite(None, OPERANDS.operands)
    assert judge_assumptions((name,), observation({}), other).held is None


def test_unreadable_operand_cannot_confirm() -> None:
    operands = Rewrite(None, (Operand("f(a)", None, 2), Operand("b", ("b",), 2)))
    verdict = judge_assumptions(("tensor-operands",), observation({"b": facts(rank=2)}), operands)
    assert (verdict.held, verdict.detail) == (None, "`f(a)` cannot be read without running code")


def test_fix_operands_from_the_rewrite() -> None:
    text = "y = torch.einsum('ij,jk->ik', a.t(), self.w)\n"
    # Only the equation and one operand are edited: the operands come from the rewritten call.
    start = text.index("'ij")
    edits = (Edit(start, start + len("'ij,jk->ik'"), "'ji,jk->ik'"), Edit(text.index("a.t()"), text.index("a.t()") + 5, "a"))
    operands = fix_operands(text, Fix(Applicability.UNSAFE, edits, ("tensor-operands",)))
    assert operands == (Operand("a", ("a",), 2), Operand("self.w", ("self", "w"), 2))
    whole = Fix(Applicability.UNSAFE, (Edit(0, 0, "torch.linalg.multi_dot([x, f(y)])"),), ())
    assert fix_operands("", whole) == (Operand("x", ("x",), 2), Operand("f(y)", None, 2))
    bound = Fix(Applicability.UNSAFE, (Edit(0, 0, "torch.einsum('...i,i', x, v)"),), ())
    assert fix_operands("", bound, frozenset({"x"})) == (Operand("x", None, 1, True), Operand("v", ("v",), 1))


def test_file_model_merges_runs(tmp_path: Path) -> None:
    first = observation({"a": facts(rank=2, shapes=[[1, 2]])}, executions=3, seconds=1.0)
    second = observation({"a": facts(rank=2, shapes=[[1, 2], [3, 2]], executions=2)}, executions=2, seconds=0.5)
    merged = model.Observations(tmp_path).merged([first, second])
    (only,) = merged.sites.values()
    assert (only.executions, only.seconds) == (5, 1.5)
    assert only.operands["a"].reads == 5
    assert only.operands["a"].counts["ranks"] == {"2": 5}
    assert only.operands["a"].shapes == ((1, 2), (3, 2))
    path = tmp_path / ".einlint" / "observations.json"
    model.write(path, merged)
    assert model.read(path).sites == merged.sites
    many = observation({"a": facts(rank=2, shapes=[[n + 10, 2] for n in range(model.SHAPE_SAMPLE)])})
    assert many.operands["a"].shapes_truncated is False
    too_many = observation({"a": facts(rank=2, shapes=[[n, 2] for n in range(model.SHAPE_SAMPLE + 1)])})
    assert too_many.operands["a"].shapes_truncated is True
    grown = model.Observations(tmp_path).merged([first, many]).sites[many.key].operands["a"]
    assert len(grown.shapes) == model.SHAPE_SAMPLE and grown.shapes_truncated


@pytest.mark.parametrize(
    "content",
    [
        '{"sites": []}',
        '{"einlint-observations": 1, "sites": [{"path": "a.py", "line": 0, "hash": "x"}]}',
        '{"einlint-observations": 1, "sites": [{"path": "a.py", "line": 1, "hash": "x", "executions": -1}]}',
    ],
)
def test_malformed_observations_are_one_line_errors(tmp_path: Path, content: str) -> None:
    path = tmp_path / "obs.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(model.ObservationsError) as error:
        model.read(path)
    assert len(str(error.value).splitlines()) == 1
