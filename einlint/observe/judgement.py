"""A fix's named assumptions, judged against what ``einlint observe`` recorded at its statement.

Each assumption name that observation can settle maps to one check below; a check says the
assumption held in every recorded execution, was contradicted (and by what), or cannot be told from
what was recorded. A name without a check (``slower-rewrite``, and any name added later) is never
confirmed by observation: the fix stays unsafe until someone writes its check.

- every assumption held: the fix becomes an observed fix (applied with ``--observed-fixes``);
- one contradicted: the fix is withdrawn and the message says what was observed;
- the statement never ran: the fix stays unsafe and the finding says it was not observed;
- otherwise the fix stays unsafe ("unconfirmed", with the reason).

Observation is evidence about the runs that were recorded, not a proof about every run.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, replace

from einlint.config import Settings
from einlint.diagnostics import Applicability, Diagnostic, Observed
from einlint.observe.observations import Observations, SiteObservation, ValueFacts
from einlint.observe.sites import Operand, Rewrite, find_statement, fix_rewrite, source_lines

# Classes that are torch tensors with nothing of their own: a ``Parameter`` or ``Buffer`` disables
# ``__torch_function__``, so einsum treats it exactly as a tensor. Any other subclass may override
# what einsum does, and counts as another class.
PLAIN_TENSOR_CLASSES = frozenset({"torch.Tensor", "torch.nn.parameter.Parameter", "torch.nn.parameter.Buffer"})
FLOATING_DTYPES = frozenset({"torch.float16", "torch.bfloat16", "torch.float32", "torch.float64"})
INTEGRAL_DTYPES = frozenset(
    {"torch.bool", "torch.uint8", "torch.int8", "torch.int16", "torch.int32", "torch.int64", "torch.uint16", "torch.uint32", "torch.uint64"}
)


@dataclass(frozen=True)
class Check:
    held: bool | None  # True: held in every execution; False: contradicted; None: cannot tell
    detail: str = ""  # what contradicted it, or why it cannot be told


HELD = Check(True)


def _facts(site: SiteObservation, operand: Operand) -> ValueFacts | Check:
    """The operand's facts when it was read in every execution; otherwise why it cannot be told."""
    if operand.access is None:
        return Check(None, f"`{operand.text}` cannot be read without running code")
    facts = site.operands.get(operand.text)
    if facts is None or facts.unreadable or facts.reads < site.executions:
        return Check(None, f"`{operand.text}` was not read in every execution")
    return facts


def _each_operand(site: SiteObservation, operands: tuple[Operand, ...], contradiction: Callable[[Operand, ValueFacts], Check | None]) -> Check:
    """Contradicted when any operand contradicts; held when every operand was read every time and
    none contradicts; otherwise cannot tell."""
    unknown: Check | None = None
    for operand in operands:
        facts = site.operands.get(operand.text)
        if facts is not None:
            found = contradiction(operand, facts)
            if found is not None and found.held is False:
                return found
            if found is not None and unknown is None:
                unknown = found
        readable = _facts(site, operand)
        if isinstance(readable, Check) and unknown is None:
            unknown = readable
    return unknown or HELD


def _times(count: int, site: SiteObservation) -> str:
    return f"in {count} of {site.executions} execution{'s' if site.executions != 1 else ''}"


def check_tensor_operands(site: SiteObservation, operands: tuple[Operand, ...]) -> Check:
    def contradiction(operand: Operand, facts: ValueFacts) -> Check | None:
        for name, count in sorted(facts.counts.get("classes", {}).items()):
            if name not in PLAIN_TENSOR_CLASSES:
                return Check(False, f"`{operand.text}` as {name} {_times(count, site)}")
        return None

    return _each_operand(site, operands, contradiction)


def check_ranks(site: SiteObservation, operands: tuple[Operand, ...]) -> Check:
    def contradiction(operand: Operand, facts: ValueFacts) -> Check | None:
        if operand.labels is None:
            return Check(None, f"the rewrite gives `{operand.text}` no einsum term")
        ranks = facts.counts.get("ranks", {})
        for rank, count in sorted(ranks.items()):
            if not operand.rank_fits(int(rank)):
                need = f"at least {operand.labels}" if operand.ellipsis else str(operand.labels)
                return Check(False, f"`{operand.text}` with {rank} dimensions where the rewrite needs {need}, {_times(count, site)}")
        if sum(ranks.values()) < facts.reads:
            return Check(None, f"`{operand.text}` was not always a tensor")
        return None

    return _each_operand(site, operands, contradiction)


def check_float_dtypes(site: SiteObservation, operands: tuple[Operand, ...]) -> Check:
    def contradiction(operand: Operand, facts: ValueFacts) -> Check | None:
        dtypes = facts.counts.get("dtypes", {})
        for dtype, count in sorted(dtypes.items()):
            if dtype in INTEGRAL_DTYPES:
                return Check(False, f"`{operand.text}` with dtype {dtype} {_times(count, site)}")
        if any(dtype not in FLOATING_DTYPES for dtype in dtypes) or sum(dtypes.values()) < facts.reads:
            return Check(None, f"`{operand.text}` did not always have a real floating dtype")
        return None

    found = _each_operand(site, operands, contradiction)
    if found.held is True and site.dtype_mismatches:
        return Check(None, f"the operands had different dtypes {_times(site.dtype_mismatches, site)}")
    return found


def check_fixed_shapes(site: SiteObservation, operands: tuple[Operand, ...]) -> Check:
    def contradiction(operand: Operand, facts: ValueFacts) -> Check | None:
        if len(facts.shapes) > 1 or facts.shapes_truncated:
            many = f"more than {len(facts.shapes)}" if facts.shapes_truncated else str(len(facts.shapes))
            return Check(False, f"`{operand.text}` with {many} different shapes")
        if not facts.shapes:
            return Check(None, f"`{operand.text}` was not a tensor")
        return None

    return _each_operand(site, operands, contradiction)


def check_matching_sizes(site: SiteObservation, rewrite: Rewrite) -> Check:
    facts = site.rewrites.get(rewrite.key)
    if facts is not None:
        for label, count in sorted(facts.size_mismatches.items()):
            return Check(False, f"different sizes for the dimensions labelled {label} in `{rewrite.equation}` {_times(count, site)}")
    if facts is None or facts.executions < site.executions:
        return Check(None, "the operands' sizes were not recorded in every execution")
    return HELD


def check_result_layout(site: SiteObservation, rewrite: Rewrite) -> Check:
    """The rewrite's result, worked out on meta tensors of each execution's operands, has the shape
    and strides the statement's result had: nothing that receives it can tell them apart."""
    facts = site.rewrites.get(rewrite.key)
    ran = site.executions - site.raised
    if facts is None or not ran or facts.layouts_compared < ran:
        return Check(None, "the rewrite's result layout could not be compared in every execution")
    if facts.layouts_same < facts.layouts_compared:
        return Check(None, f"the rewrite's result would have other strides {_times(facts.layouts_compared - facts.layouts_same, site)}")
    return HELD


def check_no_autocast(site: SiteObservation, operands: tuple[Operand, ...]) -> Check:
    for state, count in sorted(site.autocast.items()):
        if state != "off":
            return Check(False, f"autocast on ({state}) {_times(count, site)}")
    if sum(site.autocast.values()) < site.executions:
        return Check(None, "the autocast state was not recorded in every execution")
    return HELD


def _on_operands(check: Callable[[SiteObservation, tuple[Operand, ...]], Check]) -> Callable[[SiteObservation, Rewrite], Check]:
    return lambda site, rewrite: check(site, rewrite.operands)


def _on_einsum(check: Callable[[SiteObservation, Rewrite], Check]) -> Callable[[SiteObservation, Rewrite], Check]:
    def checked(site: SiteObservation, rewrite: Rewrite) -> Check:
        if rewrite.equation is None:
            return Check(None, "the rewrite is not an einsum whose sizes and layout the recorder works out")
        return check(site, rewrite)

    return checked


# The assumptions observation can settle. Every other name stays unsafe.
ASSUMPTION_CHECKS: dict[str, Callable[[SiteObservation, Rewrite], Check]] = {
    "tensor-operands": _on_operands(check_tensor_operands),
    "operand-ranks": _on_operands(check_ranks),
    "matching-ranks": _on_operands(check_ranks),
    "float-dtypes": _on_operands(check_float_dtypes),
    "fixed-shapes-in-loops": _on_operands(check_fixed_shapes),
    "no-autocast": _on_operands(check_no_autocast),
    "matching-sizes": _on_einsum(check_matching_sizes),
    # The same check: a result laid out exactly as the original's is contiguous where it was.
    "result-layout": _on_einsum(check_result_layout),
    "contiguous-result": _on_einsum(check_result_layout),
}


def judge_assumptions(assumptions: tuple[str, ...], site: SiteObservation, rewrite: Rewrite | None) -> Check:
    """All the fix's assumptions together: contradicted by the first contradiction, held when each held."""
    unknown: Check | None = None
    for assumption in assumptions:
        check = ASSUMPTION_CHECKS.get(assumption)
        if check is None:
            found = Check(None, f"`{assumption}` cannot be confirmed by observation")
        elif rewrite is None:
            found = Check(None, "the fix's operands are not known")
        else:
            found = check(site, rewrite)
        if found.held is False:
            return found
        if found.held is None and unknown is None:
            unknown = found
    return unknown or HELD


def _summary(status: str, site: SiteObservation, rewrite: Rewrite | None, reason: str | None) -> Observed:
    names = [operand.text for operand in rewrite.operands] if rewrite is not None else []
    values = [site.operands[name] for name in names if name in site.operands]

    def seen(kind: str) -> tuple[str, ...]:
        return tuple(sorted({item for facts in values for item in facts.seen(kind)}))

    ranks = tuple(sorted({int(rank) for rank in seen("ranks")}))
    return Observed(status, site.executions, site.seconds, site.raised, seen("classes"), ranks, seen("dtypes"), seen("devices"), reason)


def judge(diagnostic: Diagnostic, site: SiteObservation | None, rewrite: Rewrite | None, declared: frozenset[str]) -> Diagnostic:
    """The finding as observation leaves it: its fix observed, withdrawn or still unsafe, and what ran."""
    fix = diagnostic.fix
    unsafe = fix is not None and fix.applicability is Applicability.UNSAFE
    if site is None:
        if not unsafe:
            return diagnostic
        message = f"{diagnostic.message} (fix not observed: the statement did not run under einlint observe)"
        return replace(diagnostic, message=message, observed=Observed("not observed"))
    if not unsafe:
        return replace(diagnostic, observed=_summary("measured", site, rewrite, None))
    pending = tuple(assumption for assumption in fix.assumptions if assumption not in declared)
    verdict = judge_assumptions(pending, site, rewrite)
    if verdict.held is False:
        message = f"{diagnostic.message} [fix withdrawn: observed {verdict.detail}]"
        return replace(diagnostic, message=message, fix=None, observed=_summary("withdrawn", site, rewrite, verdict.detail))
    if verdict.held is True:
        return replace(diagnostic, fix=replace(fix, applicability=Applicability.OBSERVED), observed=_summary("observed", site, rewrite, None))
    return replace(diagnostic, observed=_summary("unconfirmed", site, rewrite, verdict.detail))


def judge_file(
    diagnostics: list[Diagnostic], text: str, observations: Observations, declared: frozenset[str] = frozenset(),
    settings: Settings | None = None, path: str | None = None,
) -> list[Diagnostic]:  # fmt: skip
    """Every finding of one file (its current ``text``) judged against the observations; with the
    file's ``settings`` and ``path``, the findings of the rules that report only from observations
    are added."""
    judged = _judge_fixes(diagnostics, text, observations, declared)
    if settings is None or path is None or not text:
        return judged
    from einlint.observe.observed_rules import observed_findings

    return sorted(judged + observed_findings(path, text, observations, settings, judged))


def _judge_fixes(diagnostics: list[Diagnostic], text: str, observations: Observations, declared: frozenset[str]) -> list[Diagnostic]:
    if not diagnostics:
        return diagnostics
    relative = observations.relative(diagnostics[0].path)
    if relative is None or relative not in observations.paths():
        return [judge(d, None, None, declared) for d in diagnostics]
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return diagnostics
    lines = source_lines(text)
    judged = []
    for diagnostic in diagnostics:
        statement = find_statement(tree, lines, diagnostic.line)
        site = observations.at(relative, statement.line, statement.statement_hash) if statement is not None else None
        rewrite = None
        if site is not None and diagnostic.fix is not None and diagnostic.fix.applicability is Applicability.UNSAFE:
            rewrite = fix_rewrite(text, diagnostic.fix, statement.bound_inside)
        judged.append(judge(diagnostic, site, rewrite, declared))
    return judged
