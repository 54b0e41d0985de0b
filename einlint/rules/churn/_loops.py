"""Where a call repeats: inside a loop of its function, a comprehension, or a ``forward`` method; and
whether the function generates code (fx graphs, source text), where repeated equations are the point."""

from __future__ import annotations

import ast

from einlint.engine.context import RuleContext

# Names whose presence marks a function that builds code rather than running it. ``Proxy``: a helper
# handed fx proxies (``fx.Proxy(node, tracer)``) records graph nodes even when it never names the graph.
CODE_GENERATION_WORDS = frozenset(
    {"call_function", "create_node", "Graph", "GraphModule", "Proxy", "exec", "codegen", "emit", "CodeGen", "Tracer", "symbolic_trace"}
)


def repeating_loops(context: RuleContext) -> list[ast.AST]:
    """The enclosing loops (innermost first) that run the unit on every iteration: those whose body holds
    it, and a ``while`` whose condition it is. A ``for`` loop's iterable and its ``else`` clause run once."""
    candidate = context.unit.candidate
    chain = (*candidate.ancestors, candidate.node)
    loops = []
    for loop in context.enclosing_loops():
        inner = chain[chain.index(loop) + 1]
        if any(inner is statement for statement in loop.body) or (isinstance(loop, ast.While) and inner is loop.test):
            loops.append(loop)
    return loops


def in_loop(context: RuleContext) -> bool:
    return bool(repeating_loops(context))


def in_forward(context: RuleContext) -> bool:
    function = context.enclosing_function()
    return isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)) and function.name == "forward"


def generates_code(context: RuleContext) -> bool:
    function = context.enclosing_function()
    if function is None:
        return False
    memo = context.analysis.memo
    key = ("generates-code", id(function))
    if key not in memo:
        words = set()
        for node in ast.walk(function):
            if isinstance(node, ast.Attribute):
                words.add(node.attr)
            elif isinstance(node, ast.Name):
                words.add(node.id)
        memo[key] = bool(words & CODE_GENERATION_WORDS)
    return memo[key]


def loop_targets(context: RuleContext) -> set[str]:
    """Names bound by the targets of the enclosing loops (``for i, eq in ...``)."""
    names: set[str] = set()
    for loop in repeating_loops(context):
        target = getattr(loop, "target", None)
        if target is not None:
            names.update(node.id for node in ast.walk(target) if isinstance(node, ast.Name))
    return names


def innermost_for(context: RuleContext) -> ast.For | None:
    for loop in repeating_loops(context):
        if isinstance(loop, ast.For):
            return loop
    return None
