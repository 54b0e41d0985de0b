"""What a rule may ask while it visits a unit: what a name refers to, what is known about an operand,
and where to report."""

from __future__ import annotations

import ast
from dataclasses import replace
from itertools import accumulate
from typing import TYPE_CHECKING

import libcst as cst

from einlint.line_length import DEFAULT_LINE_LENGTH
from einlint.diagnostics import Applicability, Diagnostic, Edit, Fix
from einlint.engine.import_cleanup import ModuleNames, import_removals
from einlint.engine.source import LINE_BREAK
from einlint.engine.targets import fix_target
from einlint.engine.wrapping import wrapped
from einlint.evidence.foreign_attributes import attributes_tensors_lack, class_fact, instance_of_other_class, may_read_attribute, operand_root
from einlint.evidence.imports import ImportTable
from einlint.evidence.temporaries import single_use_view
from einlint.evidence.layout import LayoutTracer
from einlint.evidence.reaching import reaching_evidence, reaching_non_tensor
from einlint.evidence.operands import UNKNOWN, FunctionFacts, OperandEvidence, block_bindings, dotted_name, expression_evidence
from einlint.evidence.scopes import names_bound_other_than_by_import, outer_functions
from einlint.evidence.stability import declared_elsewhere
from einlint.evidence.syntax_walk import code_nodes
from einlint.rewrite.analyzer import FoldableTemporary

if TYPE_CHECKING:
    from einlint.engine.candidates import Candidate
    from einlint.engine.units import Unit
    from einlint.rule_protocol import FixProposal


# A scope this many lines long or longer (and the module) has the lines that cannot read an attribute
# ruled out before it is searched for attributes a tensor lacks.
LONG_SCOPE_LINES = 200


class FileAnalysis:
    """Per-file state shared by all units: imports and the (lazily built) facts of each scope."""

    def __init__(
        self,
        tree: ast.Module,
        lines: list[str],
        declared_assumptions: frozenset[str],
        enabled_chain_kinds: frozenset = frozenset(),
        text: str = "",
        line_length: int = DEFAULT_LINE_LENGTH,
    ) -> None:
        self.tree = tree
        self.line_length = line_length  # fixes are wrapped to it
        self.enabled_chain_kinds = enabled_chain_kinds
        self.text = text
        self.has_walrus = ":=" in text
        self.has_pragmas = "einlint:" in text
        self.lines = lines
        self.imports = ImportTable.from_module(tree)
        self.declared_elsewhere = declared_elsewhere(tree, text)
        self.declared_assumptions = declared_assumptions
        self._scope_facts: dict[int, FunctionFacts] = {}
        self._scope_imports: dict[int, ImportTable] = {}
        self._outer_functions: dict[int, tuple[ast.AST, ...]] | None = None
        # Per-file results rules share (e.g. whether a function generates code), keyed by the rule.
        self.memo: dict = {}
        self._attribute_lines: list[int] | None = None
        # id of a statement -> the names it binds itself: found once for the import tables of the
        # scopes and their facts both (see operands.block_bindings)
        self._bound_names: dict[int, tuple[str, ...]] = {}

    def may_read_attributes(self, first_line: int, last_line: int) -> bool:
        """Could code on lines ``first_line`` to ``last_line`` read an attribute (see
        evidence.foreign_attributes.may_read_attribute)?"""
        if self._attribute_lines is None:
            # How many of the lines up to each line could: one subtraction answers for any range.
            self._attribute_lines = [0, *accumulate(map(may_read_attribute, LINE_BREAK.split(self.text)))]
        counts = self._attribute_lines
        if not 1 <= first_line <= last_line < len(counts):
            return True  # lines this text does not have: nothing is ruled out
        return counts[last_line] > counts[first_line - 1]

    def facts_for(self, scope: ast.AST) -> FunctionFacts:
        facts = self._scope_facts.get(id(scope))
        if facts is None:
            facts = FunctionFacts(scope, self.imports_in(scope), self.lines, self.has_walrus, self.has_pragmas, self.declared_elsewhere, self._bound_names)
            self._scope_facts[id(scope)] = facts
        return facts

    def imports_in(self, scope: ast.AST) -> ImportTable:
        """The import table as code in ``scope`` sees it: without the names that the function or any
        function around it binds itself (a parameter ``mm=mm``, a local ``matmul = ...``)."""
        table = self._scope_imports.get(id(scope))
        if table is None:
            if self._outer_functions is None:
                self._outer_functions = outer_functions(self.tree)
            shadowing: frozenset[str] = frozenset()
            for function in (*self._outer_functions.get(id(scope), ()), scope):
                if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                    shadowing |= names_bound_other_than_by_import(function, self.has_walrus, self._bound_names)
            table = self.imports.without(shadowing)
            self._scope_imports[id(scope)] = table
        return table

    def outer_functions(self, scope: ast.AST) -> tuple[ast.AST, ...]:
        """The functions around ``scope``, outermost first."""
        if self._outer_functions is None:
            self._outer_functions = outer_functions(self.tree)
        return self._outer_functions.get(id(scope), ())


class RuleContext:
    def __init__(self, unit: Unit, analysis: FileAnalysis, path: str, sink: list[Diagnostic]) -> None:
        self.unit = unit
        self.analysis = analysis
        self.path = path
        self._sink = sink

    # --- names -------------------------------------------------------------------------------
    def qualified_name(self, node: cst.CSTNode) -> str | None:
        """``torch.einsum`` for ``t.einsum`` / ``einsum`` / ``torch.functional.einsum`` when they refer to
        torch's; None for a name this scope (or a function around it, or a comprehension or lambda in
        the unit) binds itself, or anything not imported."""
        dotted = _dotted(node)
        if dotted is None:
            return None
        return self.imports.qualify(dotted)

    @property
    def imports(self) -> ImportTable:
        """The file's import table as this unit sees it (see FileAnalysis.imports_in)."""
        memo = self.unit.memo
        if "imports" not in memo:
            scope = self.enclosing_function() or self.analysis.tree
            table = self.analysis.imports_in(scope).without(self._names_bound_inside_unit())
            if scope is self.analysis.tree:
                table = table.without(self._class_body_names())
            memo["imports"] = table
        return memo["imports"]

    def _class_body_names(self) -> frozenset[str]:
        """Names bound in the bodies of the classes around a unit that is in no function: code in a
        class body reads them before the module's."""
        names: set[str] = set()
        for node in self.unit.candidate.ancestors:
            if isinstance(node, ast.ClassDef):
                names.update(name for statement, name in block_bindings(node.body) if not isinstance(statement, (ast.Import, ast.ImportFrom)))
        return frozenset(names)

    def provably_imported(self, alias: str, referenced_by: cst.CSTNode | None = None) -> bool:
        """Is ``alias`` certain to hold what the import table says when this unit runs, so that a fix
        may write a new reference to it? An import at the module's top level (before a unit at module
        level), or one in this function that runs before the unit. A name that ``referenced_by`` (the
        code a fix replaces) already reads is as good: if it is unbound, both versions raise."""
        if alias not in self.imports.aliases:
            return False
        if referenced_by is not None:
            expression = self.as_ast(referenced_by)
            if expression is not None and any(isinstance(node, ast.Name) and node.id == alias for node in ast.walk(expression)):
                return True
        function = self.enclosing_function()
        scopes = (*self.analysis.outer_functions(function), function) if function is not None else ()
        for scope in reversed(scopes):
            facts = self.analysis.facts_for(scope)
            entry = facts.names.get(alias)
            if entry is None or not entry.bindings:
                continue
            if scope is not function:
                return False  # a closure over an outer function's import: when it ran is not known
            candidate = self.unit.candidate
            statement = candidate.node if candidate.is_statement else candidate.ancestors[-1]
            chain = facts.use_chain(candidate.ancestors if candidate.is_statement else candidate.ancestors[:-1], statement)
            return any(facts.dominates(binding, chain) for binding in entry.bindings)
        line = self.analysis.imports.unconditional.get(alias)
        if line is None:
            return False
        return function is not None or line < getattr(self.unit.candidate.node, "lineno", 0)

    def enclosing_function(self) -> ast.AST | None:
        return enclosing_function(self.unit.candidate)

    def enclosing_loops(self) -> list[ast.AST]:
        """Loops around the unit inside its function (a loop outside the function does not repeat it)."""
        loops = []
        for node in reversed(self.unit.candidate.ancestors):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                break
            if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
                loops.append(node)
        return loops

    # --- operands ----------------------------------------------------------------------------
    def operand_evidence(self, node: cst.CSTNode) -> OperandEvidence:
        # In a lambda or generator expression the code runs later, after whatever follows this
        # statement: what the function shows about its names here need not hold there.
        name_evidence = self.name_evidence if id(node) not in self._deferred_nodes() else _nothing_known
        if isinstance(node, cst.Name):
            evidence = name_evidence(node.value)
            dotted: str | None = node.value
        else:
            expression = self.as_ast(node)
            if expression is None:
                return UNKNOWN
            evidence = expression_evidence(expression, self.imports, name_evidence)
            dotted = operand_root(expression)
        foreign = self._attributes_tensors_lack().get(dotted, ()) if dotted is not None else ()
        instance = self._instance_of_other_class()
        if instance is not None and dotted == instance[0]:
            foreign = (class_fact(instance[1]), *foreign)
        # A comprehension or lambda variable of that name is another value.
        if foreign and dotted.split(".")[0] not in self._names_bound_inside_unit():
            evidence = replace(evidence, foreign_attributes=foreign, foreign_owner=dotted)
        return evidence

    def _instance_of_other_class(self) -> tuple[str, str] | None:
        function = self.enclosing_function()
        if function is None:
            return None
        memo = self.analysis.memo
        key = ("instance of another class", id(function))
        if key not in memo:
            memo[key] = instance_of_other_class(function, self.unit.candidate.ancestors, self.analysis.tree)
        return memo[key]

    def _attributes_tensors_lack(self) -> dict[str, tuple[str, ...]]:
        scope = self.enclosing_function() or self.analysis.tree
        memo = self.analysis.memo
        key = ("attributes tensors lack", id(scope))
        if key not in memo:
            # Ruling lines out costs a pass over the file's lines: worth it for a long scope only.
            long_scope = isinstance(scope, ast.Module) or (scope.end_lineno or 0) - scope.lineno >= LONG_SCOPE_LINES  # type: ignore[attr-defined]
            may_read = self.analysis.may_read_attributes if long_scope else None
            memo[key] = attributes_tensors_lack(scope, may_read)
        return memo[key]

    def name_evidence(self, name: str) -> OperandEvidence:
        """What is known about local ``name`` where this unit uses it."""
        if name in self._names_bound_inside_unit():
            return UNKNOWN  # a comprehension or lambda variable shadows the function's name
        scope = self.enclosing_function() or self.analysis.tree
        facts = self.analysis.facts_for(scope)
        candidate = self.unit.candidate
        if candidate.is_statement:
            chain = facts.use_chain(candidate.ancestors, candidate.node)
        else:
            # a header expression is evaluated before its compound statement's body
            chain = facts.use_chain(candidate.ancestors[:-1], candidate.ancestors[-1])
        located = id(candidate.node if candidate.is_statement else candidate.ancestors[-1]) in facts.location
        if not located:
            # inside a class body, which the scope's facts do not walk: no assignment is known to reach
            return facts.evidence_at(name, chain)
        evidence = reaching_evidence(facts, facts.imports, name, tuple(chain))
        if evidence.not_tensor is None:
            # A rebound name (``a = np.array(r)``; ``a = a / n``) has no facts of its own, but the
            # assignment that reaches this use may still show it is not a tensor. Only that is taken
            # from it: it can only stop a fix, never enable one.
            kind = reaching_non_tensor(facts, facts.imports, name, tuple(chain))
            if kind is not None:
                evidence = replace(evidence, not_tensor=kind)
        return evidence

    def layout_tracer(self) -> tuple[LayoutTracer, tuple[tuple[int, int], ...]]:
        """A tracer of how tensors sit in memory in the function around this unit (see
        evidence.layout), and this unit's place in it."""
        return layout_tracer(self.analysis, self.unit.candidate, self._names_bound_inside_unit())

    def as_ast(self, node: cst.CSTNode) -> ast.expr | None:
        """``node`` as an ast expression. Parsed from the file's text at the node's position, not
        from libcst's code generation, which costs time in the size of the node: asked for every
        operand of nested calls, that made deep nesting quadratic."""
        memo = self.unit.memo.setdefault("as-ast", {})
        key = id(node)
        if key not in memo:
            text = self.unit.written(node)
            try:
                memo[key] = ast.parse(f"(\n{text}\n)", mode="eval").body
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                memo[key] = None
        return memo[key]

    def einsum_reference(self, replaced: cst.CSTNode | None = None) -> str | None:
        """How this file can spell torch.einsum without a new import: its own alias of einsum, else
        ``<torch alias>.einsum``; None when neither is provably bound to torch's where this unit runs
        (see provably_imported; ``replaced`` is the code the fix replaces)."""
        aliases = self.imports.aliases
        for alias, target in aliases.items():
            if target in ("torch.einsum", "torch.functional.einsum") and self.provably_imported(alias, replaced):
                return alias
        for alias, target in aliases.items():
            if target == "torch" and self.provably_imported(alias, replaced):
                return f"{alias}.einsum"
        return None

    def module_alias(self, module: str, replaced: cst.CSTNode | None = None) -> str | None:
        """The local name this file imported ``module`` as (``import torch as t`` -> ``t``), when it is
        provably bound to that module where this unit runs."""
        for alias, target in self.imports.aliases.items():
            if target == module and self.provably_imported(alias, replaced):
                return alias
        return None

    def written(self, node: cst.CSTNode) -> str:
        """``node`` as the file spells it."""
        return self.unit.written(node)

    def derives_from_attribute(self, name: str) -> bool:
        """Is local ``name`` bound once, to an attribute read (``w = self.proj.weight.to(x)``)?"""
        function = self.enclosing_function()
        if function is None:
            return False
        entry = self.analysis.facts_for(function).names.get(name)
        if entry is None or len(entry.bindings) != 1 or not isinstance(entry.bindings[0], ast.Assign):
            return False
        node = entry.bindings[0].value
        while True:
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                node = node.func.value
            elif isinstance(node, ast.Subscript):
                node = node.value
            else:
                break
        return isinstance(node, ast.Attribute)

    def foldable_temporary(self, name: str) -> FoldableTemporary | None:
        """Single-use view temporary ``name`` (see evidence.temporaries) as this unit's chain may fold
        it: the view as a concrete expression, the edit that deletes its statement, and why the fold
        is refused (the view could read something else here), if it is. None also where the
        statement shares its lines with other code or a comment: deleting it would lose them."""
        function = self.enclosing_function()
        candidate = self.unit.candidate
        if function is None or not candidate.is_statement or name in self._names_bound_inside_unit():
            return None
        facts = self.analysis.facts_for(function)
        use_chain = facts.use_chain(candidate.ancestors, candidate.node)
        temporary = single_use_view(function, facts, name, candidate.node, use_chain)
        if temporary is None or temporary.definition.end_lineno is None:
            return None
        definition = temporary.definition
        source = self.unit.source
        first, last = definition.lineno, definition.end_lineno
        start_col = source.char_col(first, definition.col_offset)
        end_col = source.char_col(last, definition.end_col_offset or 0)
        if source.line_text(first)[:start_col].strip() or source.line_text(last)[end_col:].strip():
            return None  # shares its line with other code or a comment, which deleting it would lose
        value = definition.value
        value_start = source.offset(value.lineno, source.char_col(value.lineno, value.col_offset))
        value_end = source.offset(value.end_lineno or value.lineno, source.char_col(value.end_lineno or value.lineno, value.end_col_offset or 0))
        try:
            expression = cst.parse_expression(source.text[value_start:value_end])
        except cst.ParserSyntaxError:
            return None
        delete_end = source.line_starts[last] if last < len(source.line_starts) else len(source.text)
        return FoldableTemporary(expression, Edit(source.line_starts[first - 1], delete_end, ""), temporary.refusal)

    def preferred_quote(self) -> str:
        text = self.analysis.text
        return '"' if text.count('"') > text.count("'") else "'"

    def _deferred_nodes(self) -> frozenset[int]:
        """ids of the unit's nodes inside a lambda or a generator expression."""
        memo = self.unit.memo
        if "deferred" not in memo:
            text = self.unit.text
            memo["deferred"] = _nodes_inside_deferred_code(self.unit.root) if "lambda" in text or "for" in text else frozenset()
        return memo["deferred"]

    def _names_bound_inside_unit(self) -> frozenset[str]:
        memo = self.unit.memo
        if "inner-bindings" not in memo:
            text = self.unit.text
            # Only a comprehension, a lambda or a walrus binds a name inside an expression: without
            # their keywords in the text there is nothing to find, and the walk costs per finding.
            might_bind = "for" in text or "lambda" in text or ":=" in text
            memo["inner-bindings"] = names_bound_inside(self.unit.candidate.node) if might_bind else frozenset()
        return memo["inner-bindings"]

    def assumption_declared(self, assumption: str) -> bool:
        return assumption in self.analysis.declared_assumptions

    # --- reporting ---------------------------------------------------------------------------
    def report(self, code: str, node: cst.CSTNode, message: str, proposal: FixProposal | None, span: tuple[int, int] | None = None) -> None:
        start, end = span if span is not None else self.unit.span(node)
        source = self.unit.source
        line, col = source.position(start)
        end_line, end_col = source.position(end)
        fix = self._fix(proposal) if proposal is not None else None
        noqa = self.unit.noqa_range(line)
        self._sink.append(Diagnostic(self.path, line, col, end_line, end_col, code, message, fix, noqa))

    def report_at(self, code: str, node: cst.CSTNode, offset_in_node: int, message: str) -> None:
        """Report at a character inside ``node`` (e.g. one label of an equation string)."""
        start, _ = self.unit.span(node)
        self.report(code, node, message, None, span=(start + offset_in_node, start + offset_in_node + 1))

    def _fix(self, proposal: FixProposal) -> Fix:
        edits: list[Edit] = []
        for node, replacement in ((proposal.node, proposal.replacement), *proposal.extra):
            start, end = self.unit.span(node)
            text = replacement if isinstance(replacement, str) else self.unit.code_for(replacement)
            start, end = self._without_redundant_parentheses(node, start, end, text)
            fitted = wrapped(text, self.unit.source, start, end, self.analysis.line_length)
            if fitted != text and not self._inside_f_string(start):
                text = fitted
            edits.append(Edit(start, end, text))
        target = fix_target(proposal.target, self.unit, edits) if proposal.target is not None else None
        applicability = proposal.applicability
        remaining = tuple(a for a in proposal.assumptions if not self.assumption_declared(a))
        if applicability is Applicability.UNSAFE and proposal.assumptions and not remaining:
            applicability = Applicability.SAFE
        edits.extend(proposal.extra_edits)
        removals, removed_names = import_removals(self._module_names(), self.unit.source, edits)
        # The main edit stays first: reporters show it as the fix's replacement.
        return Fix(applicability, tuple(edits + removals), proposal.assumptions, removed_names, target)

    def _inside_f_string(self, offset: int) -> bool:
        source = self.unit.source
        for node in ast.walk(self.unit.ast_node):
            if isinstance(node, ast.JoinedStr) and node.end_lineno is not None:
                start = source.offset(node.lineno, source.char_col(node.lineno, node.col_offset))
                end = source.offset(node.end_lineno, source.char_col(node.end_lineno, node.end_col_offset or 0))
                if start <= offset < end:
                    return True
        return False

    def _module_names(self) -> ModuleNames:
        memo = self.analysis.memo
        if "module-names" not in memo:
            memo["module-names"] = ModuleNames(self.analysis.tree, self.path)
        return memo["module-names"]

    def _without_redundant_parentheses(self, node: cst.CSTNode, start: int, end: int, text: str) -> tuple[int, int]:
        """The edit's span widened over the one pair of parentheses ``node`` had (``(a @ b).sum()``)
        when the replacement is a call on one line: ``torch.einsum(...).sum()`` needs none. Kept where
        anything but spaces sits between a parenthesis and the node (a comment) or the node spans
        lines (the parentheses continue them)."""
        parentheses = (getattr(node, "lpar", ()), getattr(node, "rpar", ()))
        if len(parentheses[0]) != 1 or len(parentheses[1]) != 1 or "\n" in text or not _is_one_call(text):
            return start, end
        source = self.unit.source.text
        if "\n" in source[start:end]:
            return start, end
        left = source.rfind("(", 0, start)
        right = source.find(")", end)
        if left < 0 or right < 0 or source[left + 1 : start].strip() or source[end:right].strip():
            return start, end
        return left, right + 1


def _is_one_call(text: str) -> bool:
    """Whether ``text`` is a single call expression (needs no parentheses as an operand)."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return False
    return isinstance(tree.body, ast.Call)


def _dotted(node: cst.CSTNode) -> str | None:
    parts = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


def _nothing_known(name: str) -> OperandEvidence:
    return UNKNOWN


def _nodes_inside_deferred_code(root: cst.CSTNode) -> frozenset[int]:
    found: set[int] = set()

    class _Collector(cst.CSTVisitor):
        depth = 0

        def on_visit(self, node: cst.CSTNode) -> bool:
            if self.depth:
                found.add(id(node))
            if isinstance(node, (cst.Lambda, cst.GeneratorExp)):
                self.depth += 1
            return True

        def on_leave(self, original_node: cst.CSTNode) -> None:
            if isinstance(original_node, (cst.Lambda, cst.GeneratorExp)):
                self.depth -= 1

    root.visit(_Collector())
    return frozenset(found)


def names_bound_inside(node: ast.AST) -> frozenset[str]:
    """Names that code inside ``node`` binds for itself: comprehension and lambda variables, walrus
    targets. A use of one of them does not read the function's variable of that name."""
    names: set[str] = set()
    for child in code_nodes(node):
        if isinstance(child, ast.comprehension):
            names.update(n.id for n in ast.walk(child.target) if isinstance(n, ast.Name))
        elif isinstance(child, ast.Lambda):
            arguments = child.args
            names.update(a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs))
            names.update(a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None)
        elif isinstance(child, ast.NamedExpr) and isinstance(child.target, ast.Name):
            names.add(child.target.id)
    return frozenset(names)


def enclosing_function(candidate: Candidate) -> ast.AST | None:
    for node in reversed(candidate.ancestors):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return node
    return None


def layout_tracer(analysis: FileAnalysis, candidate: Candidate, shadowed: frozenset[str]) -> tuple[LayoutTracer, tuple[tuple[int, int], ...]]:
    """A tracer of tensor layouts in the function around ``candidate``, and the candidate's use chain."""
    scope = enclosing_function(candidate) or analysis.tree
    facts = analysis.facts_for(scope)
    if candidate.is_statement:
        chain = tuple(facts.use_chain(candidate.ancestors, candidate.node))
    else:
        chain = tuple(facts.use_chain(candidate.ancestors[:-1], candidate.ancestors[-1]))
    imports = analysis.imports_in(scope).without(shadowed)
    if id(candidate.node if candidate.is_statement else candidate.ancestors[-1]) not in facts.location:
        chain = ()  # inside a class body: no assignment is known to reach (reaching_assignment says None)

    def qualify(node: ast.expr) -> str | None:
        dotted = dotted_name(node)
        return imports.qualify(dotted) if dotted is not None else None

    def evidence_at(name: str, at: tuple[tuple[int, int], ...]) -> OperandEvidence:
        if not at or (at == chain and name in shadowed):
            return facts.evidence_at(name, list(at)) if at else OperandEvidence()
        return reaching_evidence(facts, imports, name, at)

    def rank_of(node: ast.expr, at: tuple[tuple[int, int], ...]) -> int | None:
        return expression_evidence(node, imports, lambda name: evidence_at(name, at)).rank

    return LayoutTracer(facts, qualify, evidence_at, hidden=(chain, shadowed), rank_of=rank_of), chain
