"""The import a fix leaves unused: a fix that rewrites the last use of ``einsum`` imported with
``from torch import einsum`` (EIN121 writing ``a @ b``) also removes that import, so the fixed file
passes the project's own unused-import check (F401).

Only names imported from torch or opt_einsum are considered (what einlint's rewrites replace), and only
where removing the binding provably changes nothing else: the name has exactly that one binding and no
other use in the module, nothing reads names dynamically (``globals()``, ``eval``, ``__all__`` or any
string naming it), the file is not a package ``__init__.py`` (which re-exports), and the import stands
on lines of its own without a ``noqa`` comment (a deliberate re-export says so)."""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass

import libcst as cst

from einlint.diagnostics import Edit
from einlint.engine.source import SourceText

# Modules whose imported names einlint's rewrites may make unused.
CLEANED_MODULES = ("torch", "opt_einsum")
# Calls that read a module's names by string: with any of them, no binding is provably unused.
DYNAMIC_ACCESS = frozenset({"globals", "locals", "vars", "eval", "exec", "__import__", "getattr"})


@dataclass(frozen=True)
class ImportBinding:
    """One name bound by an import statement of a cleaned module."""

    name: str
    statement: ast.Import | ast.ImportFrom
    alias: ast.alias


class ModuleNames:
    """What the module says about its names, computed once per file and only when a fix removes text
    that loads an imported name."""

    def __init__(self, tree: ast.Module, path: str) -> None:
        self.package_init = os.path.basename(path) == "__init__.py"
        self.loads: dict[str, list[ast.Name]] = {}
        self.binding_counts: dict[str, int] = {}
        self.strings: set[str] = set()
        self.dynamic = False
        self.bindings: dict[str, ImportBinding] = {}
        self.parents: dict[int, list[ast.stmt]] = {}
        for node in ast.walk(tree):
            for field_name in ("body", "orelse", "finalbody"):
                block = getattr(node, field_name, None)
                if isinstance(block, list):
                    for statement in block:
                        self.parents[id(statement)] = block
            if isinstance(node, ast.Name):
                if isinstance(node.ctx, ast.Load):
                    self.loads.setdefault(node.id, []).append(node)
                    self.dynamic = self.dynamic or node.id in DYNAMIC_ACCESS
                else:
                    self._bind(node.id)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                self.strings.add(node.value)
            elif isinstance(node, (ast.Global, ast.Nonlocal)):
                for name in node.names:
                    self._bind(name)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self._bind(node.name)
            elif isinstance(node, ast.arg):
                self._bind(node.arg)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                self._bind(node.name)
            elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
                self._bind(node.name)
            elif isinstance(node, ast.MatchMapping) and node.rest:
                self._bind(node.rest)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    bound = alias.asname or alias.name.split(".")[0]
                    self._bind(bound)
                    if _cleaned(node, alias):
                        self.bindings[bound] = ImportBinding(bound, node, alias)

    def _bind(self, name: str) -> None:
        self.binding_counts[name] = self.binding_counts.get(name, 0) + 1

    def removable(self, name: str) -> ImportBinding | None:
        binding = self.bindings.get(name)
        if binding is None or self.package_init or self.dynamic or name in self.strings:
            return None
        if self.binding_counts.get(name, 0) != 1:
            return None
        return binding


def _cleaned(statement: ast.Import | ast.ImportFrom, alias: ast.alias) -> bool:
    if alias.name == "*":
        return False
    if isinstance(statement, ast.ImportFrom):
        module = statement.module or ""
        return statement.level == 0 and module.split(".")[0] in CLEANED_MODULES
    # `import torch` stays (importing it has effects beyond the binding); `import opt_einsum` may go.
    return alias.name == "opt_einsum"


def import_removals(names: ModuleNames, source: SourceText, edits: list[Edit]) -> tuple[list[Edit], tuple[str, ...]]:
    """Edits that remove each cleaned import whose every use lies inside ``edits`` (and that no
    replacement mentions again), with the names they unbind."""
    removals: list[Edit] = []
    removed: list[str] = []
    for name in sorted(_names_loaded_in(names, source, edits)):
        binding = names.removable(name)
        if binding is None or any(_mentions(edit.replacement, name) for edit in edits):
            continue
        if not all(_inside(_offset(source, use), edits) for use in names.loads.get(name, ())):
            continue
        removal = _removal(binding, names, source)
        if removal is not None and not any(_overlap(removal, edit) for edit in (*edits, *removals)):
            removals.append(removal)
            removed.append(name)
    return removals, tuple(removed)


def _names_loaded_in(names: ModuleNames, source: SourceText, edits: list[Edit]) -> set[str]:
    replaced = "".join(source.text[edit.start : edit.end] for edit in edits)
    return {name for name in names.bindings if _mentions(replaced, name)}


def _mentions(text: str, name: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", text) is not None


def _offset(source: SourceText, node: ast.AST) -> int:
    return source.offset(node.lineno, source.char_col(node.lineno, node.col_offset))


def _inside(offset: int, edits: list[Edit]) -> bool:
    return any(edit.start <= offset < edit.end for edit in edits)


def _overlap(first: Edit, second: Edit) -> bool:
    return first.start < second.end and second.start < first.end


def _removal(binding: ImportBinding, names: ModuleNames, source: SourceText) -> Edit | None:
    statement = binding.statement
    first, last = statement.lineno, statement.end_lineno or statement.lineno
    start = _offset(source, statement)
    end = source.offset(last, source.char_col(last, statement.end_col_offset or 0))
    line_start = source.line_starts[first - 1]
    line_end = source.line_starts[last] if last < len(source.line_starts) else len(source.text)
    before, after = source.text[line_start:start], source.text[end:line_end]
    # On lines of its own: only indentation before, only a comment (never a noqa) after.
    if before.strip() or (after.strip() and not after.strip().startswith("#")) or "noqa" in after:
        return None
    if len(statement.names) == 1:
        siblings = names.parents.get(id(statement), [])
        if len(siblings) <= 1:
            return None  # the block's only statement: removing it would leave the block empty
        return Edit(line_start, line_end, "")
    remaining = _without_alias(source.text[start:end], binding.alias)
    return None if remaining is None else Edit(start, end, remaining)


def _without_alias(statement_text: str, alias: ast.alias) -> str | None:
    """The import statement's text with one alias taken out, comments and layout kept (libcst)."""
    try:
        line = cst.parse_statement(statement_text + "\n")
    except (cst.ParserSyntaxError, RecursionError, ValueError):
        return None
    if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1:
        return None
    node = line.body[0]
    if not isinstance(node, (cst.Import, cst.ImportFrom)) or isinstance(node.names, cst.ImportStar):
        return None
    kept = [item for item in node.names if not _is_alias(item, alias)]
    if len(kept) != len(node.names) - 1 or not kept:
        return None
    last = kept[-1]
    if isinstance(node, cst.Import) or node.rpar is None:
        kept[-1] = last.with_changes(comma=cst.MaybeSentinel.DEFAULT)
    elif not isinstance(node.names[-1].comma, cst.Comma):
        kept[-1] = last.with_changes(comma=cst.MaybeSentinel.DEFAULT)
    updated = node.with_changes(names=kept)
    return cst.Module(body=[]).code_for_node(updated)


def _is_alias(item: cst.ImportAlias, alias: ast.alias) -> bool:
    name = cst.Module(body=[]).code_for_node(item.name)
    asname = item.asname.name.value if item.asname is not None and isinstance(item.asname.name, cst.Name) else None
    return name == alias.name and asname == alias.asname
