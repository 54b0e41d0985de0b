"""When a fact about a tensor's shape, proven where it was established, may no longer hold at a use
although the name was never rebound.

A shape fact (``a = torch.zeros(2, 3, 4)``, ``b, n, d = x.shape``, ``assert x.ndim == 3``) describes
the tensor object the name holds. That object's shape and dtype change in place through any reference
to it: ``alias.unsqueeze_(0)``, ``box[0].squeeze_()``, ``alias.data = ...``, ``resize_``, ``set_``,
``as_strided_``, ``torch.Tensor.t_(alias)``, ``getattr(alias, "unsqueeze_")(0)``, or a helper that
does any of these to what it is given. The in-place call on the name itself is a rebinding (see
evidence.operands); what this module adds is everything else, by one conservative rule:

  A name's shape facts are void at a use when the name is *shared* and a *hazard* may run after the
  fact's statement and before the use.

- **Shared**: another reference to the object may exist. The name is bound to a value that is not
  a fresh tensor (a parameter, an attribute, an element, a helper's result, a ``for``/``with``
  target), or its value may be kept by something else (assigned on, put in a container, iterated over
  by a ``for`` or a comprehension whose variable then holds it, captured by a nested function or
  lambda, given to a call that may keep it, the receiver of a method einlint does not know, returned
  by a function or method that may return its argument or receiver such as ``torch.flatten``,
  ``.contiguous()``, ``.float()``, ``.to()``).
- **Hazard**: code that may change a shared tensor in place: an in-place shape method (on any
  receiver, called or only named), ``.data =`` (or a store of another torch.Tensor attribute,
  ``.__class__ =``, ``.permute =``), ``out=``, a call that is not a known torch function,
  tensor method or builtin (a helper, a module, ``getattr``), ``yield`` and ``await``. Anything in a
  nested function, lambda, generator expression or class body may run at any time.
- **May run between**: source order within the function, and any hazard inside a loop around the use
  (a later statement of the loop body reaches an earlier use on the next iteration).

Names that a ``global`` or ``nonlocal`` statement anywhere in the file declares are rebound from other
scopes: their facts are never used. A module's own names are all shared: any function of the file, and
any code handed the module's namespace (``globals()``, ``sys.modules``), reaches them; what the
module's functions do counts where a call may run them (an unknown call is a hazard already). Properties and operator overloads of user classes are assumed not
to reshape tensors.
"""

from __future__ import annotations

import ast
import bisect
import re

from einlint.evidence.imports import ImportTable, dotted_name
from einlint.evidence.syntax_walk import BLOCK_STATEMENTS
from einlint.evidence.tensor_attributes import TENSOR_ATTRIBUTES

# In-place methods that change the shape or the layout of the tensor they are called on.
SHAPE_CHANGING_IN_PLACE = frozenset(
    {"unsqueeze_", "squeeze_", "resize_", "resize_as_", "set_", "as_strided_", "transpose_", "t_", "swapaxes_",
     "swapdims_", "sparse_resize_", "sparse_resize_and_clear_"}
)  # fmt: skip
# Settable properties of torch.Tensor whose store keeps the tensor's shape, dtype, class and methods.
_KEEPING_PROPERTIES = frozenset({"grad", "requires_grad", "real", "imag", "grad_dtype", "_grad", "retains_grad"})


def replaces_tensor(attribute: str) -> bool:
    """Does a store ``x.<attribute> = ...`` change what x's tensor is? ``x.data = y`` swaps the tensor
    behind every reference, ``x.__class__ = C`` its class, and a store of any other torch.Tensor
    attribute (``x.permute = f``) shadows the method that code calls on x."""
    return attribute in TENSOR_ATTRIBUTES and attribute not in _KEEPING_PROPERTIES


# Tensor methods whose result is always a new tensor object (never the receiver itself), checked
# against torch: ``flatten``, ``contiguous``, ``float``, ``to``, ``type_as``, ``conj`` and
# ``resolve_conj`` may return the receiver.
FRESH_RESULT_METHODS = frozenset(
    {"view", "view_as", "reshape", "reshape_as", "transpose", "permute", "unsqueeze", "squeeze", "unflatten",
     "expand", "expand_as", "broadcast_to", "narrow", "select", "movedim", "moveaxis", "swapaxes", "swapdims",
     "t", "matmul", "bmm", "mm", "sum", "mean", "softmax", "log_softmax", "masked_fill", "clone", "detach",
     "mul", "div", "add", "sub", "pow", "exp", "sigmoid", "tanh", "relu", "neg", "abs", "sqrt", "rsqrt",
     "chunk", "split", "unbind", "tensor_split", "repeat", "repeat_interleave", "new_zeros", "new_ones",
     "new_empty", "new_full", "new_tensor", "size", "dim", "ndimension", "numel", "item", "tolist", "max",
     "min", "argmax", "argmin", "norm", "amax", "amin", "std", "var", "prod", "cumsum", "gather",
     "index_select", "masked_select", "diagonal", "tril", "triu", "square", "log", "clamp", "round",
     "floor", "ceil", "sin", "cos", "outer", "logsumexp", "any", "all", "eq", "ne", "lt", "le", "gt", "ge",
     "where", "flip", "roll", "einsum"}
)  # fmt: skip
# Methods (of tensors, lists, dicts, strings) that run no user code and change no tensor's shape.
_INERT_METHODS = FRESH_RESULT_METHODS | frozenset(
    {"contiguous", "float", "double", "half", "bfloat16", "to", "type_as", "cpu", "cuda", "long", "int",
     "bool", "flatten", "type", "conj", "resolve_conj", "is_contiguous", "stride", "data_ptr",
     "add_", "sub_", "mul_", "div_", "copy_", "fill_", "zero_", "clamp_", "masked_fill_", "requires_grad_",
     "normal_", "uniform_", "append", "extend", "insert", "pop", "get", "items", "keys", "values",
     "setdefault", "index", "count", "join", "format", "startswith", "endswith", "replace", "strip",
     "lower", "upper"}
)  # fmt: skip
# Known methods that neither keep nor return their arguments (``box.append(t)`` keeps t).
_ARGUMENT_FREE_METHODS = FRESH_RESULT_METHODS | frozenset(
    {"add_", "sub_", "mul_", "div_", "copy_", "fill_", "clamp_", "masked_fill_", "index", "count", "startswith",
     "endswith", "join", "format", "to", "type_as", "contiguous", "float", "double", "half", "bfloat16", "cpu",
     "cuda", "long", "int", "bool", "flatten", "type", "stride", "replace", "strip"}
)  # fmt: skip
# Attributes of a tensor that are a new object or not a tensor: reading one keeps no reference.
_FRESH_ATTRIBUTES = frozenset(
    {"shape", "ndim", "dtype", "device", "T", "mT", "H", "mH", "data", "grad", "is_cuda", "requires_grad",
     "layout", "is_sparse"}
)  # fmt: skip
# Builtins that neither keep nor change their arguments (min/max return one of them).
_INERT_BUILTINS = frozenset(
    {"len", "isinstance", "issubclass", "print", "repr", "str", "int", "float", "bool", "type", "id", "tuple",
     "list", "enumerate", "zip", "range", "abs", "round", "hash", "callable", "any", "all"}
)  # fmt: skip
_SELECTING_BUILTINS = frozenset({"min", "max"})
# torch namespaces whose functions take tensors and return new ones; minus those that call back into
# user code or may return their argument.
_TORCH_FUNCTION_MODULES = frozenset({"torch", "torch.nn.functional", "torch.linalg", "torch.fft", "torch.special"})
_CALLING_BACK = frozenset(f"torch.{name}" for name in ("vmap", "compile", "cond", "while_loop", "map", "scan", "associative_scan", "jit"))
_MAY_RETURN_ARGUMENT = frozenset(
    f"torch.{name}" for name in ("as_tensor", "asarray", "atleast_1d", "atleast_2d", "atleast_3d", "positive",
                                 "resolve_conj", "resolve_neg", "conj", "conj_physical", "real", "flatten",
                                 "broadcast_tensors", "cartesian_prod", "nn.functional.dropout",
                                 "nn.functional.alpha_dropout", "nn.functional.feature_alpha_dropout")
)  # fmt: skip
_LOOPS = (ast.For, ast.AsyncFor, ast.While)
_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.GeneratorExp)
ANYWHERE = 0  # the position of a hazard that may run at any time


def statement_position(statement: ast.AST) -> int:
    """A statement's start as one number that orders statements on one line (``a = f(); g(a)``) too."""
    return (getattr(statement, "lineno", 0) << 16) | min(getattr(statement, "col_offset", 0), 0xFFFF)


_DECLARATION_WORD = re.compile(r"\b(?:global|nonlocal)[ \t]+\w")


def declared_elsewhere(tree: ast.Module, text: str) -> frozenset[str]:
    """Names that some ``global`` or ``nonlocal`` statement in the file declares. The words are common
    in comments and names, so the text is tested first: a statement starts a line or follows ``;``
    or a compound statement's ``:``."""
    for match in _DECLARATION_WORD.finditer(text):
        line_start = text.rfind("\n", 0, match.start()) + 1
        before = text[line_start : match.start()].rstrip(" \t")
        if not before or before.endswith((";", ":")):
            return _declared_names(tree.body)
    return frozenset()


def _declared_names(body: list[ast.stmt]) -> frozenset[str]:
    """The names the ``global`` and ``nonlocal`` statements in ``body`` and every block in it
    declare. Those are statements, never part of an expression (a lambda holds none), so only
    the statement blocks are searched: a tenth of the nodes of a full walk."""
    names: set[str] = set()
    pending = list(body)
    while pending:
        statement = pending.pop()
        if isinstance(statement, (ast.Global, ast.Nonlocal)):
            names.update(statement.names)
            continue
        if type(statement) not in BLOCK_STATEMENTS:
            continue
        for block in ("body", "orelse", "finalbody"):
            pending.extend(getattr(statement, block, ()))
        for part in (*getattr(statement, "handlers", ()), *getattr(statement, "cases", ())):
            pending.extend(part.body)
    return frozenset(names)


class SharedTensors:
    """The shared names and the hazards of one scope (see the module doc)."""

    def __init__(self, body: list[ast.stmt], parameters: list[str], imports: ImportTable, module: bool = False) -> None:
        self.imports = imports
        # A module's functions run only when called, and a call of one is a hazard where it runs.
        self._module = module
        self.shared: set[str] = set(parameters)
        self._positions: list[int] = []  # hazard positions (statement_position), sorted once built
        self._loop_hazards: list[tuple[int, frozenset[int]]] = []  # (position, ids of the loops around it)
        self._loops: list[int] = []
        self._position = ANYWHERE
        self._nested = 0
        for statement in body:
            self._statement(statement)
        self._positions.sort()

    def stale(self, name: str, fact_at: int, use_at: int, use_loops: frozenset[int]) -> bool:
        """May a hazard reach ``name``'s object after the fact and before the use (positions from
        statement_position: a hazard counts from its statement's start)?"""
        if name not in self.shared or not self._positions:
            return False
        if self._positions[0] == ANYWHERE:
            return True
        first = bisect.bisect_left(self._positions, fact_at)
        if first < len(self._positions) and self._positions[first] <= use_at:
            return True
        return any(position >= fact_at and loops & use_loops for position, loops in self._loop_hazards)

    # --- statements ----------------------------------------------------------------------------
    def _hazard(self) -> None:
        position = ANYWHERE if self._nested else self._position
        self._positions.append(position)
        if self._loops and position != ANYWHERE:
            self._loop_hazards.append((position, frozenset(self._loops)))

    def _statement(self, statement: ast.stmt) -> None:
        if not self._nested:
            self._position = statement_position(statement)
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for decorator in statement.decorator_list:
                self._expression(decorator, True)
            if not isinstance(statement, ast.ClassDef):
                for default in (*statement.args.defaults, *statement.args.kw_defaults):
                    if default is not None:
                        self._expression(default, True)
            else:
                for base in (*statement.bases, *(keyword.value for keyword in statement.keywords)):
                    self._expression(base, True)
            if self._module and not self._nested and not isinstance(statement, ast.ClassDef):
                return
            self._nested += 1
            for inner in statement.body:
                self._statement(inner)
            self._nested -= 1
            return
        if isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            self._assignment(statement)
        elif isinstance(statement, (ast.For, ast.AsyncFor)):
            self._expression(statement.iter, True)  # ``for x in (b,)``: x is b
            self._bind(statement.target, None)
        elif isinstance(statement, (ast.With, ast.AsyncWith)):
            for item in statement.items:
                self._expression(item.context_expr, True)
                if item.optional_vars is not None:
                    self._bind(item.optional_vars, None)
        elif isinstance(statement, ast.Delete):
            for target in statement.targets:
                self._target(target)
        elif isinstance(statement, ast.Match):
            self._expression(statement.subject, True)
            for case in statement.cases:
                for node in ast.walk(case.pattern):
                    captured = getattr(node, "name", None) or getattr(node, "rest", None)
                    if isinstance(captured, str):
                        self.shared.add(captured)
                if case.guard is not None:
                    self._expression(case.guard, False)
        elif isinstance(statement, (ast.Import, ast.ImportFrom)):
            self.shared.update((alias.asname or alias.name).split(".")[0] for alias in statement.names)
        else:
            for field in ("test", "value", "exc", "cause", "msg"):
                child = getattr(statement, field, None)
                if isinstance(child, ast.expr):
                    # ``return a`` hands the object back and leaves; ``raise E(a)`` goes through a call.
                    self._expression(child, False)
        for handler in getattr(statement, "handlers", ()):
            if handler.type is not None:
                self._expression(handler.type, False)
            if handler.name:
                self.shared.add(handler.name)
        if isinstance(statement, _LOOPS):
            self._loops.append(id(statement))
            for inner in statement.body:
                self._statement(inner)
            self._loops.pop()
            for inner in statement.orelse:
                self._statement(inner)
            return
        for field in ("body", "orelse", "finalbody"):
            for inner in getattr(statement, field, ()) or ():
                self._statement(inner)
        for handler in getattr(statement, "handlers", ()):
            for inner in handler.body:
                self._statement(inner)
        for case in getattr(statement, "cases", ()):
            for inner in case.body:
                self._statement(inner)

    def _assignment(self, statement: ast.Assign | ast.AnnAssign | ast.AugAssign) -> None:
        value = statement.value
        if value is None:
            return
        if isinstance(statement, ast.AugAssign):
            # ``h += t`` changes h's values in place (tensors) or extends a list with t's elements,
            # which were counted where they were put into t.
            self._expression(value, not isinstance(value, ast.Name))
            self._target(statement.target, bind=False)
            return
        self._expression(value, True)
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        for target in targets:
            self._bind(target, value)

    def _bind(self, target: ast.expr, value: ast.expr | None) -> None:
        """A name bound to something other than a fresh tensor may share its object with others."""
        if isinstance(target, ast.Name):
            if value is None or not self._fresh(value):
                self.shared.add(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._bind(element, None)
        elif isinstance(target, ast.Starred):
            self._bind(target.value, None)
        else:
            self._target(target)

    def _target(self, target: ast.expr, bind: bool = True) -> None:
        if isinstance(target, ast.Attribute):
            replaced = replaces_tensor(target.attr)
            if replaced:
                self._hazard()  # ``alias.data = ...`` replaces the tensor behind every reference
            self._expression(target.value, replaced)
        elif isinstance(target, ast.Subscript):
            self._expression(target.value, False)
            self._expression(target.slice, True)  # a dictionary keeps its keys
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._target(element, bind)
        elif isinstance(target, ast.Starred):
            self._target(target.value, bind)
        elif isinstance(target, ast.Name) and bind:
            self.shared.add(target.id)

    def _fresh(self, value: ast.expr) -> bool:
        """Is ``value`` certain to be a new object that nothing else refers to?"""
        if isinstance(value, ast.Call):
            if any(keyword.arg in ("out", None) for keyword in value.keywords):
                return False  # ``torch.randn(2, 3, out=buf)`` is buf
            if isinstance(value.func, ast.Attribute) and value.func.attr in FRESH_RESULT_METHODS:
                return True
            return self._call_kind(value) == "fresh"
        if isinstance(value, ast.BinOp):
            return True  # a new tensor, or a new list or tuple whose elements were counted
        if isinstance(value, (ast.List, ast.Tuple, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)):
            return True
        return isinstance(value, ast.Constant)

    # --- expressions ---------------------------------------------------------------------------
    def _expression(self, node: ast.expr | None, kept: bool) -> None:
        """Walk ``node``; ``kept``: may the value it yields be kept beyond the expression?"""
        kind = type(node)
        if kind is ast.Name:
            if kept or self._nested:
                self.shared.add(node.id)  # type: ignore[union-attr]
        elif kind is ast.Constant or node is None:
            return
        elif isinstance(node, ast.Attribute):
            if node.attr in SHAPE_CHANGING_IN_PLACE:
                # ``grow = alias.unsqueeze_``: whatever the receiver may be is changed
                self._hazard()
                self._expression(node.value, True)
            else:
                self._expression(node.value, kept and node.attr not in _FRESH_ATTRIBUTES)
        elif isinstance(node, ast.Call):
            self._call(node, kept)
        elif isinstance(node, ast.BinOp):
            # tensor arithmetic makes a new tensor; a list or tuple literal joined to another is kept
            for operand in (node.left, node.right):
                self._expression(operand, kept and not isinstance(operand, ast.Name))
        elif isinstance(node, ast.UnaryOp):
            self._expression(node.operand, kept and isinstance(node.op, ast.UAdd))  # +x is x
        elif isinstance(node, ast.Compare):
            for operand in (node.left, *node.comparators):
                self._expression(operand, False)
        elif isinstance(node, ast.Subscript):
            self._expression(node.value, False)
            self._expression(node.slice, False)
        elif isinstance(node, ast.NamedExpr):
            self._expression(node.value, True)
            self._bind(node.target, node.value)
        elif isinstance(node, (ast.Yield, ast.YieldFrom, ast.Await)):
            self._hazard()  # other code runs before this scope resumes
            self._expression(node.value, True)
        elif isinstance(node, (ast.Lambda, ast.GeneratorExp)):
            # runs later, any number of times: every name it reads is captured, every hazard is anywhere
            self._nested += 1
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self._expression(child, True)
                elif isinstance(child, ast.comprehension):
                    self._comprehension(child)
                elif isinstance(child, ast.arguments):
                    for default in (*child.defaults, *child.kw_defaults):
                        self._expression(default, True)
            self._nested -= 1
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp)):
            for generator in node.generators:
                self._comprehension(generator)
            for part in (getattr(node, "elt", None), getattr(node, "key", None), getattr(node, "value", None)):
                self._expression(part, kept)
        elif isinstance(node, ast.IfExp):
            self._expression(node.test, False)
            self._expression(node.body, kept)
            self._expression(node.orelse, kept)
        elif isinstance(node, (ast.JoinedStr, ast.FormattedValue)):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self._expression(child, False)
        else:  # containers, BoolOp (``a or b`` is a or b), Starred, Slice, Dict: keep as kept
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self._expression(child, kept)

    def _comprehension(self, generator: ast.comprehension) -> None:
        self._expression(generator.iter, True)  # ``[x.resize_(8) for x in (b,)]``: x is b
        self._bind(generator.target, None)
        for condition in generator.ifs:
            self._expression(condition, False)

    def _call(self, call: ast.Call, kept: bool) -> None:
        kind = self._call_kind(call)
        arguments = [*call.args, *(keyword.value for keyword in call.keywords)]
        if any(keyword.arg == "out" for keyword in call.keywords):
            self._hazard()  # out= resizes the tensor it is given
            kind = "unknown"
        if kind == "unknown":
            self._hazard()
        func = call.func
        if isinstance(func, ast.Attribute):
            if func.attr in SHAPE_CHANGING_IN_PLACE:
                self._hazard()
                self._expression(func.value, True)  # whatever the receiver may be is changed
            else:
                # a method may return its receiver (``.contiguous()``, any in-place method); an unknown
                # one (``b.__setstate__(...)``, ``b.register_hook(f)``) is code that receives it
                self._expression(func.value, (kept and func.attr not in FRESH_RESULT_METHODS) or kind == "unknown")
        else:
            self._expression(func, False)
        keeps = {"fresh": False, "selecting": kept, "identity": kept}.get(kind, True)
        if kind == "inert" and (isinstance(func, ast.Name) or func.attr in _ARGUMENT_FREE_METHODS):  # type: ignore[attr-defined]
            keeps = False
        for argument in arguments:
            self._expression(argument, keeps)

    def _call_kind(self, call: ast.Call) -> str:
        """fresh: a torch function that returns new tensors and keeps nothing; identity: a torch
        function that may return its argument; inert, selecting: builtins and known methods that run
        no user code (selecting: may return an argument); unknown: anything else."""
        func = call.func
        if isinstance(func, ast.Name) and func.id in _INERT_BUILTINS and self.imports.qualify(func.id) is None:
            return "inert"
        if isinstance(func, ast.Name) and func.id in _SELECTING_BUILTINS and self.imports.qualify(func.id) is None:
            return "selecting" if not call.keywords else "unknown"  # key= runs user code
        dotted = dotted_name(func)
        qualified = self.imports.qualify(dotted) if dotted else None
        if qualified is not None and qualified.startswith("torch."):
            module, _, leaf = qualified.rpartition(".")
            if module not in _TORCH_FUNCTION_MODULES or qualified in _CALLING_BACK or leaf.endswith("_"):
                return "unknown"
            if leaf[:1].isupper():
                return "unknown"  # a class: a module's constructor, or torch.Tensor's methods
            if qualified in _MAY_RETURN_ARGUMENT or any(k.arg == "inplace" for k in call.keywords):
                return "identity"
            return "fresh"
        if isinstance(func, ast.Attribute) and qualified is None and func.attr in _INERT_METHODS:
            return "inert"
        return "unknown"
