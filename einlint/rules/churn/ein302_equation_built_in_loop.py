from __future__ import annotations

import ast
import re
import string

import libcst as cst

from einlint.diagnostics import Edit
from einlint.engine.context import names_bound_inside
from einlint.evidence.operands import _block_names
from einlint.rules.base import Binding, Example, FixProposal, Rule, SoundnessFamily, VerificationTarget
from einlint.rules.churn._fresh import fresh_name
from einlint.rules.churn._loops import generates_code, innermost_for, loop_targets, repeating_loops
from einlint.rules.einsum_calls import is_einsum
from einlint.rules.equation._checked import EINSUM_TRIGGERS

MAX_LISTED = 8
# Bounds on evaluating the user's template, so that linting stays cheap whatever the file holds: the
# values a literal iterable may yield, any number in a format spec (a width of 50000000 would build
# a 50 MB string), and each equation produced. Real equations are far shorter.
MAX_VALUES = 64
MAX_FORMAT_NUMBER = 64
MAX_EQUATION = 128
# A ``str.format`` field that names an argument by position or keyword, nothing more.
FORMAT_FIELD = re.compile(r"[0-9]*|[A-Za-z_][A-Za-z0-9_]*")
# One conversion of a ``%`` template: flags, mapping key, width, precision, length and type.
PRINTF_SPEC = re.compile(r"%[^a-zA-Z%]*[a-zA-Z%]")
# The dict a fix writes before the loop, at most: a fix never adds more than this to a file.
MAX_DEFINITION = 4096


class EquationBuiltInLoop(Rule):
    """An einsum equation built from the loop variable inside the loop.

    What it flags: ``for i in range(3): torch.einsum(f'b{chr(105 + i)}j->bj', x)``,
    ``torch.einsum(eq_prefix + letters[i] + '->b', x)`` - an equation (f-string, ``+``, ``.format``,
    ``%`` formatting, ``join``) that depends on a loop variable, written in the call or assigned to a
    name in the loop body. When the loop runs over a literal range, string or tuple and the equation is
    an f-string, a ``str.format`` or ``%`` template written as a literal, or a ``+`` of such parts and
    the loop variable, the message lists the equations it produces. Iterating over equations that
    exist before the loop (``for eq in EQUATIONS``) is the fix, not the problem, and is not flagged.

    Why it matters: building the string is cheap (~0.2 us); an equation that changes every iteration
    is not. It defeats caching of contraction paths (for 3+ operands a path search runs each time) and
    makes ``torch.compile`` see a different graph per equation. Precomputing the equations outside the
    loop makes the set of contractions explicit.

    Fix: where the equations are listed and the template is written in the call, a dict from each
    loop value to its equation is written just before the loop and the call looks the equation up:
    ``i_equations = {'i': 'bi->b', 'j': 'bj->b'}`` then ``torch.einsum(i_equations[i], x)``.
    Elsewhere, precompute the equations by hand.

    Fix safety: safe. The dict holds exactly the strings the template evaluates to for every value the
    literal iterable yields, and the fix is offered only when the loop body never rebinds the loop
    variable (nor does other code through ``global`` or ``nonlocal``; a loop at module level or in
    a class body, whose variable ``globals()`` or ``locals()`` can rebind, gets no table), so every
    lookup finds the string the template would have built. The template is evaluated with no builtins and only when it
    reads nothing but the loop variable, literals, indexing, ``+`` and formatting: ``.format`` and ``%`` only on a literal string (str's own
    methods), with fields that name an argument (no attribute or item access), no ``*`` widths or
    mapping keys, and every width and precision at most 64; a loop of at most 64 values; an equation
    of at most 128 characters. Anything else is reported without a list. The dict's name is one the
    file does not mention. Functions that generate code (fx graphs, source text) are not flagged.
    """

    code = "EIN302"
    name = "equation-built-in-loop"
    soundness = {
        SoundnessFamily.NAMES: (
            "the call is read only where ``einsum`` resolves to torch's, and the dict's name is one the "
            "file never mentions, so it neither shadows nor is shadowed by anything; a ``range`` loop is "
            "listed only where nothing in the module binds the name ``range`` (and no star import)."
        ),
        SoundnessFamily.HOISTING: (
            "the dict holds every equation the template gives for the values of the literal iterable "
            "(built from literals before the loop, harmless when the loop runs zero times), and is "
            "offered only where the loop body never rebinds the loop variable, no ``global`` or ``nonlocal`` "
            "statement declares it, and no comprehension or "
            "lambda in the statement has a variable of that name; ``range(...)`` counts as a literal "
            "iterable only where ``range`` is provably the builtin."
        ),
    }
    triggers = EINSUM_TRIGGERS
    invalid = (
        Example(
            "def f(x):\n    for i in 'ij':\n        y = torch.einsum(f'b{i}->b', x)",
            fixed="def f(x):\n    i_equations = {'i': 'bi->b', 'j': 'bj->b'}\n    for i in 'ij':\n        y = torch.einsum(i_equations[i], x)",
        ),
        Example("def f(x, n):\n    for i in range(n):\n        y = torch.einsum(f'b{i}->b', x)"),
    )
    valid = (
        "def f(xs):\n    for x in xs:\n        y = torch.einsum('bi->b', x)",
        "def f(x, n):\n    eq = f'b{n}->b'\n    return torch.einsum(eq, x)",
        "def f(x):\n    for eq in ('bi->b', 'bi->i'):\n        y = torch.einsum(eq, x)",
    )

    def _range_is_builtin(self) -> bool:
        """Whether ``range`` is Python's own everywhere in the module: a def, an assignment, an import
        or a parameter of that name anywhere (or a star import) makes a ``range(3)`` loop unknown."""
        memo = self.context.analysis.memo
        if "names bound anywhere" not in memo:
            memo["names bound anywhere"] = names_bound_anywhere(self.context.analysis.tree)
        bound = memo["names bound anywhere"]
        return "range" not in bound and "*" not in bound

    def _in_function_scope(self, loop: ast.For) -> bool:
        """Is the loop variable a function's local? Only there can no other code rebind it unseen."""
        return isinstance(_scope_of(loop, self.context.unit.candidate.ancestors), (ast.FunctionDef, ast.AsyncFunctionDef))

    def visit_Call(self, node: cst.Call) -> None:
        if not node.args or node.args[0].keyword is not None or not is_einsum(node, self.context):
            return
        targets = loop_targets(self.context)
        if not targets:
            return
        argument = node.args[0].value
        equation = self.context.as_ast(argument)
        if isinstance(equation, ast.Name) and equation.id not in targets:
            equation = _built_in_loop(equation.id, targets, repeating_loops(self.context))
        if equation is None or not _is_string_building(equation) or not _free_names(equation) & targets:
            return
        if generates_code(self.context):
            return
        loop = innermost_for(self.context)
        produced = _static_equations(equation, loop, self._range_is_builtin())
        listed = ""
        if produced:
            listed = ": " + ", ".join(repr(e) for e in produced[:MAX_LISTED])
            if len(produced) > MAX_LISTED:
                listed += f", ... ({len(produced)} in all)"
        # Only a template written in the call: one assigned earlier may hold another iteration's value.
        written_in_call = not isinstance(argument, cst.Name)
        fix = self._precompute(node, argument, equation, loop) if produced and written_in_call else None
        advice = "precomputed in a dict before the loop" if fix else "precompute the equations outside the loop"
        self.report(argument, f"einsum equation rebuilt from the loop variable on every iteration{listed}; {advice}", fix)

    def _precompute(self, call: cst.Call, argument: cst.BaseExpression, template: ast.expr, loop: ast.For | None) -> FixProposal | None:
        """Replace the template by a lookup in a dict of its values, written just before the loop; the
        einsum ``call`` is what verifying it runs, the dict in place of its name."""
        if loop is None or not isinstance(loop.target, ast.Name):
            return None
        variable = loop.target.id
        if any(node.id == variable for node in _block_names(loop.body, True)):
            return None  # the body rebinds the loop variable: the template may see other values
        if variable in self.context.analysis.declared_elsewhere:
            return None  # a ``global``/``nonlocal`` statement lets other code rebind it mid-iteration
        if not self._in_function_scope(loop):
            return None  # a module's or class body's names: ``globals()``, ``locals()`` rebind them
        if variable in names_bound_inside(self.context.unit.candidate.node):
            return None  # a comprehension or lambda in the statement has its own variable of that name
        table = _equation_table(template, loop, self._range_is_builtin())
        source = self.context.unit.source
        line = source.line_text(loop.lineno)
        indent = line[: len(line) - len(line.lstrip())]
        if table is None or not line.lstrip().startswith("for") or line[: loop.col_offset].strip():
            return None
        name = fresh_name(f"{variable}_equations", source.text)
        quote = self.context.preferred_quote()
        entries = [f"{_literal(key, quote)}: {_literal(value, quote)}" for key, value in table.items()]
        newline = source.newline
        one_line = f"{indent}{name} = {{{', '.join(entries)}}}"
        if len(one_line) <= self.context.analysis.line_length:
            definition = one_line + newline
        else:
            inner = indent + "    "
            definition = f"{indent}{name} = {{{newline}" + "".join(f"{inner}{entry},{newline}" for entry in entries) + f"{indent}}}{newline}"
        if len(definition) > MAX_DEFINITION:
            return None
        start = source.line_starts[loop.lineno - 1]
        table_value = Binding(name, None, f"{{{', '.join(entries)}}}")
        operands = tuple(argument.value for argument in call.args[1:])
        target = VerificationTarget("the einsum call that reads the precomputed equation", call, operands, bindings=(table_value,))
        return FixProposal(argument, f"{name}[{variable}]", extra_edits=(Edit(start, start, definition),), target=target)


def _scope_of(loop: ast.For, ancestors: tuple[ast.AST, ...]) -> ast.AST | None:
    """The innermost function or class around ``loop`` (None at module level)."""
    scopes = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
    inner = None
    for node in ancestors:
        if node is loop:
            break
        if isinstance(node, scopes):
            inner = node
    return inner


def _literal(value: str | int, quote: str) -> str:
    if isinstance(value, str) and quote not in value and "\\" not in value and value.isprintable():
        return f"{quote}{value}{quote}"
    return repr(value)


def _static_equations(template: ast.expr, loop: ast.For | None, range_is_builtin: bool) -> list[str]:
    """The distinct equations a template of the loop variable (an f-string, ``str.format``, ``%``
    formatting, ``+``) produces over a literal iterable."""
    table = _equation_table(template, loop, range_is_builtin)
    return list(dict.fromkeys(table.values())) if table else []


def _equation_table(template: ast.expr, loop: ast.For | None, range_is_builtin: bool) -> dict | None:
    """Each value of the literal iterable -> the equation the template gives for it; None when the
    template is not one that is safe to evaluate, or any value gives no short string."""
    if loop is None or not isinstance(loop.target, ast.Name):
        return None
    variable = loop.target.id
    values = _literal_iterable(loop.iter, range_is_builtin)
    if values is None or not all(isinstance(value, (str, int)) and not isinstance(value, bool) for value in values):
        return None
    if _free_names(template) != {variable} or not _evaluable(template):
        return None  # only the loop variable, literals, indexing and bounded formatting: no user code runs
    code = compile(ast.fix_missing_locations(ast.Expression(template)), "<equation>", "eval")
    table = {}
    for value in values:
        try:
            result = eval(code, {"__builtins__": {}}, {variable: value})  # checked by _evaluable
        except Exception:  # noqa: BLE001 - anything unexpected: do not list
            return None
        if not isinstance(result, str) or len(result) > MAX_EQUATION:
            return None  # not an equation a person wrote out: neither listed nor written into the file
        table[value] = result
    return table


def _evaluable(node: ast.AST) -> bool:
    """Is ``node`` built only from names, literals, indexing, ``+`` and formatting whose widths and
    precisions are written out and small, so that evaluating it (with no builtins) runs no user code
    and builds no large string? ``str.format`` and ``%`` count only on a literal string, where they
    are str's own methods."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (str, int)) and not isinstance(node.value, bool)
    if isinstance(node, ast.Name):
        return isinstance(node.ctx, ast.Load)
    if isinstance(node, ast.JoinedStr):
        return all(_evaluable(part) for part in node.values)
    if isinstance(node, ast.FormattedValue):
        return _evaluable(node.value) and (node.format_spec is None or _bounded_spec_node(node.format_spec))
    if isinstance(node, ast.Subscript):
        return _evaluable(node.value) and _evaluable(node.slice)
    if isinstance(node, ast.Slice):
        return all(part is None or _evaluable(part) for part in (node.lower, node.upper, node.step))
    if isinstance(node, ast.Tuple):
        return all(_evaluable(element) for element in node.elts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _evaluable(node.left) and _evaluable(node.right)  # no longer than its parts together
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        left = node.left
        if not (isinstance(left, ast.Constant) and isinstance(left.value, (str, int)) and not isinstance(left.value, bool)):
            return False  # a computed format string may carry any width
        if isinstance(left.value, str) and not _bounded_printf(left.value):
            return False
        return _evaluable(node.right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        receiver = node.func.value
        if not (isinstance(receiver, ast.Constant) and isinstance(receiver.value, str) and _bounded_format(receiver.value)):
            return False
        if any(isinstance(arg, ast.Starred) for arg in node.args) or any(keyword.arg is None for keyword in node.keywords):
            return False
        return all(_evaluable(arg) for arg in node.args) and all(_evaluable(keyword.value) for keyword in node.keywords)
    return False


def _bounded_spec_node(spec: ast.expr) -> bool:
    """An f-string's format spec: written out (no value computed inside it), its numbers small."""
    if not isinstance(spec, ast.JoinedStr):
        return False
    parts = [part for part in spec.values if isinstance(part, ast.Constant)]
    return len(parts) == len(spec.values) and _small_numbers("".join(str(part.value) for part in parts))


def _bounded_format(text: str) -> bool:
    """A ``str.format`` template whose fields name an argument (no attribute or item access, which
    would read the argument's attributes) and whose specs are written out with small numbers."""
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:
        return False
    for _, field_name, spec, conversion in fields:
        if field_name is None:
            continue
        if not FORMAT_FIELD.fullmatch(field_name) or conversion not in (None, "r", "s", "a"):
            return False
        if spec and ("{" in spec or not _small_numbers(spec)):
            return False
    return True


def _bounded_printf(text: str) -> bool:
    """A ``%`` template without mapping keys or ``*`` widths, whose widths and precisions are small."""
    for spec in PRINTF_SPEC.findall(text):
        if "(" in spec or "*" in spec or not _small_numbers(spec):
            return False
    return True


def _small_numbers(text: str) -> bool:
    # A width of 50000000 would build a 50 MB string.
    return all(int(number) <= MAX_FORMAT_NUMBER for number in re.findall(r"[0-9]+", text))


def _is_string_building(node: ast.expr) -> bool:
    if isinstance(node, (ast.JoinedStr, ast.BinOp)):
        return True
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("format", "join", "replace")


def _free_names(node: ast.AST) -> set[str]:
    # ast keeps attribute and keyword names as strings, so ``spec.mode`` mentions only ``spec``.
    return {child.id for child in ast.walk(node) if isinstance(child, ast.Name)}


def _built_in_loop(name: str, targets: set[str], loops: list[ast.AST]) -> ast.expr | None:
    """The string-building value assigned to ``name`` from a loop variable in one of ``loops``' bodies."""
    pending = [statement for loop in loops for statement in loop.body]  # type: ignore[attr-defined]
    while pending:
        statement = pending.pop()
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue  # their names are their own
        if isinstance(statement, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in statement.targets):
            if _is_string_building(statement.value) and _free_names(statement.value) & targets:
                return statement.value
        for field in ("body", "orelse", "finalbody"):
            pending.extend(getattr(statement, field, ()))
        pending.extend(child for handler in getattr(statement, "handlers", ()) for child in handler.body)
    return None


def _literal_iterable(node: ast.expr, range_is_builtin: bool) -> list | None:
    """The values of a literal iterable, at most MAX_VALUES of them (a range is measured before it
    is listed; ``range`` counts only where it is the builtin)."""
    if isinstance(node, (ast.Tuple, ast.List)) and all(isinstance(e, ast.Constant) for e in node.elts):
        return [e.value for e in node.elts] if len(node.elts) <= MAX_VALUES else None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return list(node.value) if len(node.value) <= MAX_VALUES else None
    if range_is_builtin and isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
        bounds = [a.value for a in node.args if isinstance(a, ast.Constant) and type(a.value) is int]
        if len(bounds) == len(node.args) and 1 <= len(bounds) <= 3 and not node.keywords:
            try:
                values = range(*bounds)
                return list(values) if len(values) <= MAX_VALUES else None
            except (ValueError, OverflowError):
                return None  # a step of 0, or more values than an index can count
    return None


def names_bound_anywhere(tree: ast.Module) -> frozenset[str]:
    """Every name the module binds in any scope (``*`` for a star import, which may bind any)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names.update(node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
    return frozenset(names)
