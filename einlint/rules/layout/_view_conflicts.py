"""Find a ``.view(...)`` whose receiver's layout (evidence.layout) makes it raise."""

from __future__ import annotations

import ast
from dataclasses import dataclass

import libcst as cst

from einlint.engine.candidates import Candidate
from einlint.engine.context import FileAnalysis, RuleContext, layout_tracer, names_bound_inside
from einlint.evidence.layout import Layout, LayoutTracer, ViewConflict, target_sizes, view_conflict
from einlint.evidence.syntax_walk import code_nodes

# analysis.memo key: candidate node id -> the kinds of impossible views in it ("einsum", "strided")
_MEMO = "impossible-view-kinds"


@dataclass(frozen=True)
class ImpossibleView:
    layout: Layout
    conflict: ViewConflict
    arguments: str  # the view's arguments as written


def impossible_view(node: cst.Call, context: RuleContext) -> ImpossibleView | None:
    if not (isinstance(node.func, cst.Attribute) and node.func.attr.value == "view" and node.args):
        return None
    call = context.as_ast(node)
    if not isinstance(call, ast.Call) or call.keywords or not isinstance(call.func, ast.Attribute):
        return None
    target = target_sizes(list(call.args))
    if target is None:
        return None
    tracer, chain = context.layout_tracer()
    found = _conflict(tracer, chain, call.func.value, target)
    if found is None:
        return None
    layout, conflict = found
    return ImpossibleView(layout, conflict, ", ".join(ast.unparse(arg) for arg in call.args))


def _conflict(tracer: LayoutTracer, chain: tuple[tuple[int, int], ...], receiver: ast.expr, target) -> tuple[Layout, ViewConflict] | None:
    """The layout of ``receiver`` and why ``.view(*target)`` of it raises, or None when it may not.
    Of a tensor whose rank the code does not show, the view must raise for every rank."""
    layout = tracer.layout(receiver, chain)
    if layout is not None:
        if layout.is_row_major:
            return None
        conflict = view_conflict(layout, target)
        return (layout, conflict) if conflict is not None else None
    layouts = tracer.unknown_rank_layouts(receiver, chain)
    conflicts = [conflict for conflict in (view_conflict(candidate, target) for candidate in layouts) if conflict is not None]
    if not layouts or len(conflicts) != len(layouts):
        return None
    return layouts[0], conflicts[0]


def describe_dim(layout: Layout, dim: int) -> str:
    size = layout.sizes[dim]
    # Of a tensor whose rank is not known, a dim counted from the end is named so.
    shown = dim - layout.rank if layout.rank_unknown < 0 else dim
    return f"{shown} ({' * '.join(size)})" if size else str(shown)


def impossible_view_kinds(candidate: Candidate, analysis: FileAnalysis) -> frozenset[str]:
    """What kinds of impossible ``.view`` calls ``candidate`` holds, judged on its ``ast`` alone, so
    that statements without one are never parsed by libcst: "einsum" (of an einsum result),
    "strided" (of another strided tensor)."""
    memo = analysis.memo.setdefault(_MEMO, {})
    key = id(candidate.node)
    if key not in memo:
        kinds: set[str] = set()
        tracer = chain = None
        for node in code_nodes(candidate.node):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "view"):
                continue
            if not node.args or node.keywords:
                continue
            target = target_sizes(list(node.args))
            if target is None:
                continue
            if tracer is None:
                tracer, chain = layout_tracer(analysis, candidate, names_bound_inside(candidate.node))
            found = _conflict(tracer, chain, node.func.value, target)  # type: ignore[arg-type]
            if found is not None:
                kinds.add("einsum" if found[0].einsum_output else "strided")
        memo[key] = frozenset(kinds)
    return memo[key]
