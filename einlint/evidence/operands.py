"""What is known about an operand at the point where it is used: is it a torch tensor, what is its
rank, what are its sizes where literal, and is its dtype floating.

Facts come from the expression itself (``torch.randn(2, 3)``, ``x.permute(0, 2, 1)``) or, for a plain
name, from statements of the same function that dominate the use: the name's only binding
(``x = torch.zeros(b, n)``), a shape unpack (``b, n, d = x.shape``), an ``assert x.ndim == 3``, an
annotation, or an ``# einlint: shape x=b n d`` pragma. A fact is used only when the name is bound once
in the function, so no later assignment can invalidate it.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field, replace

from einlint.evidence.imports import ImportTable, dotted_name
from einlint.evidence.stability import SHAPE_CHANGING_IN_PLACE, SharedTensors, replaces_tensor, statement_position
from einlint.evidence.syntax_walk import BLOCK_STATEMENTS, code_nodes

# torch functions whose positional arguments (or one sequence argument) are the sizes of the result.
SHAPE_FACTORIES = frozenset(f"torch.{name}" for name in ("randn", "rand", "zeros", "ones", "empty", "full"))
VECTOR_FACTORIES = frozenset({"torch.arange", "torch.linspace", "torch.logspace"})
# torch functions that build a new tensor from sizes, numbers or Python data: nothing a tensor-like's
# __torch_function__ could intercept, so the result is a plain dense torch.Tensor. (Not
# ``torch.as_tensor``: it returns a tensor argument itself, a subclass or a sparse tensor included.)
CREATION_FUNCTIONS = (
    SHAPE_FACTORIES | VECTOR_FACTORIES | frozenset(f"torch.{name}" for name in ("eye", "tensor", "from_numpy", "randint", "randperm", "empty_strided"))
)
FLOAT_FACTORIES = frozenset(f"torch.{name}" for name in ("randn", "rand"))
# Callables that only accept and return tensors: their result is a tensor.
TENSOR_RESULT_PREFIXES = ("torch.",)
NON_TENSOR_TORCH = frozenset({"torch.Size", "torch.device", "torch.dtype", "torch.no_grad", "torch.is_tensor", "torch.numel", "torch.typename"})
TENSOR_ANNOTATIONS = frozenset({"torch.Tensor", "torch.FloatTensor", "torch.nn.Parameter", "torch.nn.parameter.Parameter"})
INTEGRAL_ANNOTATIONS = frozenset(f"torch.{kind}Tensor" for kind in ("Bool", "Long", "Int", "Short", "Byte", "Char"))
_JAXTYPING_INTEGRAL = frozenset({"Bool", "Int", "Integer", "UInt", "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64"})
INTEGRAL_DTYPES = frozenset(
    f"torch.{name}" for name in ("bool", "int", "long", "short", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
)
INTEGRAL_RESULT_METHODS = frozenset({"long", "int", "short", "bool", "byte", "char"})
# Methods that convert to the dtype they are given (``x.to(torch.float16)``, ``x.type(torch.long)``).
CONVERSION_METHODS = frozenset({"to", "type"})
# The dtype of what randn and friends return without ``dtype=``: torch.get_default_dtype() at run time.
DEFAULT_FLOAT = "default"
FLOAT_DTYPES = {
    "torch.float32": "torch.float32", "torch.float": "torch.float32", "torch.float64": "torch.float64",
    "torch.double": "torch.float64", "torch.float16": "torch.float16", "torch.half": "torch.float16",
    "torch.bfloat16": "torch.bfloat16",
}  # fmt: skip
# Array libraries whose values overload ``@``, ``*``, ``.T`` and ``.sum`` with their own semantics:
# what their functions return is not a torch tensor.
NON_TENSOR_MODULES = frozenset({"numpy", "scipy", "jax", "cupy", "pandas", "tensorflow"})
ARRAY = "array"
OBJECT = "object"  # an instance of a class, a list, a Python number
_PRAGMA = re.compile(r"#\s*einlint:\s*shape\s+(.+)$")


@dataclass(frozen=True)
class OperandEvidence:
    is_tensor: bool = False
    rank: int | None = None
    shape: tuple[int | None, ...] | None = None  # literal sizes; None entries are unknown sizes
    is_float: bool = False
    labels: tuple[str, ...] | None = None  # dimension names from a pragma or shape unpack
    dtype: str | None = None  # a floating dtype the code states ("torch.float64"), or DEFAULT_FLOAT
    # What the operand is known to be instead of a torch tensor: ARRAY (numpy and the like), OBJECT.
    not_tensor: str | None = None
    # It comes from a method numpy arrays lack or from a torch function: a torch tensor, or a
    # tensor-like class that implements those (gpytorch's LinearOperator, a __torch_function__
    # wrapper). Not proof of a torch.Tensor: such classes support ``@`` but not always ``einsum``.
    tensor_methods: bool = False
    # The code states an integer or bool dtype (``torch.LongTensor``, jaxtyping ``Bool[...]``,
    # ``.long()``, ``dtype=torch.int32``): evidence against any rewrite that needs floating values.
    integral: bool = False
    # The rank an annotation states (jaxtyping's ``Float[Tensor, "b n d"]``): good enough to report an
    # equation that contradicts it, never proof for a fix (Python does not check annotations).
    claimed_rank: int | None = None
    # Attributes the same scope reads from this operand (written as a name) that torch.Tensor lacks
    # (``K.add_jitter()``), or first ``class_fact(name)`` when it is ``self`` of a class that is not a
    # tensor class: evidence that it is another class, which withdraws fixes assuming a tensor.
    foreign_attributes: tuple[str, ...] = ()
    foreign_owner: str = ""  # the value they are read from (``covar`` of an operand ``covar.mT``)


UNKNOWN = OperandEvidence()


# Methods that numpy arrays (and lists) do not have: a value produced by one is a torch tensor, or
# the original code raises before the expression is used.
TENSOR_ONLY_METHODS = frozenset(
    {
        "permute", "unsqueeze", "contiguous", "clone", "detach", "float", "double", "half", "bfloat16",
        "type_as", "masked_fill", "softmax", "log_softmax", "to", "cuda", "cpu", "expand", "expand_as",
        "repeat_interleave", "view_as", "reshape_as", "sigmoid", "relu", "tanh", "exp", "bmm", "mm",
        "matmul", "narrow", "unflatten", "new_zeros", "new_ones", "new_empty", "new_full",
    }
)  # fmt: skip
# Methods of a torch.Tensor that return a torch.Tensor whatever their arguments are (sizes, dims).
TENSOR_TO_TENSOR_METHODS = frozenset(
    {
        "flatten", "squeeze", "expand", "repeat", "t", "narrow", "select", "unflatten", "movedim",
        "swapaxes", "swapdims", "transpose", "contiguous", "clone", "detach", "float", "double", "half",
        "bfloat16", "cpu", "cuda", "sum", "mean", "softmax", "log_softmax", "sigmoid", "tanh", "relu", "exp",
    }
)  # fmt: skip
# Methods whose result has the receiver's rank.
RANK_PRESERVING_METHODS = frozenset(
    {
        "transpose", "swapaxes", "swapdims", "contiguous", "clone", "detach", "float", "double", "half",
        "bfloat16", "type_as", "masked_fill", "softmax", "log_softmax", "to", "cuda", "cpu", "sigmoid",
        "relu", "tanh", "exp", "neg", "abs", "sqrt", "rsqrt", "pow", "mul", "div", "add", "sub",
    }
)  # fmt: skip
# Elementwise methods that broadcast self against their tensor arguments: with one of higher rank (or
# another dtype) the result has that rank (or the promoted dtype). Only literal number arguments keep both.
BROADCASTING_METHODS = frozenset({"masked_fill", "pow", "mul", "div", "add", "sub"})
FLOAT_RESULT_METHODS = frozenset({"float", "double", "half", "bfloat16", "softmax", "log_softmax", "sigmoid", "tanh"})
METHOD_DTYPES = {"float": "torch.float32", "double": "torch.float64", "half": "torch.float16", "bfloat16": "torch.bfloat16"}
# Methods of a tensor that return something else (an ndarray, a list, a Python number).
NON_TENSOR_RESULT_METHODS = frozenset({"tolist", "item"})
# SHAPE_CHANGING_IN_PLACE (evidence.stability): after ``x.unsqueeze_(0)`` and the like, facts about
# x's binding (its rank, its sizes, how it sits in memory) no longer hold, as after a new assignment.
# Methods that reinterpret a tensor's memory and raise unless its strides allow it.
VIEW_METHODS = frozenset({"view", "view_as"})


def expression_evidence(node: ast.expr, imports: ImportTable, resolve_name=None) -> OperandEvidence:
    """Facts that follow from the expression alone (and, through ``resolve_name``, from what is known
    about a name at its root)."""
    if isinstance(node, ast.Name):
        return resolve_name(node.id) if resolve_name is not None else UNKNOWN
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
        return _product_evidence(node.left, node.right, imports, resolve_name)
    if not isinstance(node, ast.Call):
        return UNKNOWN
    qualified = qualified_name(node.func, imports)
    if qualified in ("torch.matmul", "torch.bmm", "torch.mm") and len(node.args) == 2 and not node.keywords:
        return _product_evidence(node.args[0], node.args[1], imports, resolve_name)
    if qualified in CREATION_FUNCTIONS and not states_dense_layout(node, imports):
        return OperandEvidence(tensor_methods=True)  # ``layout=torch.sparse_coo``: not a plain dense tensor
    if qualified in SHAPE_FACTORIES:
        shape = _factory_shape(node, qualified)
        dtype = _factory_dtype(node, qualified, imports)
        is_float = qualified in FLOAT_FACTORIES or dtype is not None
        integral = _states_integral_dtype(node, imports)
        if shape is not None:
            return OperandEvidence(True, len(shape), shape, is_float, dtype=dtype, integral=integral)
        return OperandEvidence(True, is_float=is_float, dtype=dtype, integral=integral)
    if qualified in VECTOR_FACTORIES:
        # arange/linspace/logspace always return a 1-D tensor.
        return OperandEvidence(True, rank=1, is_float=qualified != "torch.arange")
    if qualified is not None:
        if qualified.startswith(TENSOR_RESULT_PREFIXES) and qualified not in NON_TENSOR_TORCH and _is_tensor_function(qualified):
            # torch.matmul(linear_operator, x) returns whatever the operand's __torch_function__ says.
            return OperandEvidence(is_tensor=qualified in CREATION_FUNCTIONS, tensor_methods=True)
        kind = _non_tensor_call(qualified)
        return OperandEvidence(not_tensor=kind) if kind else UNKNOWN
    if not isinstance(node.func, ast.Attribute):
        kind = _non_tensor_call(node.func.id) if isinstance(node.func, ast.Name) else None
        return OperandEvidence(not_tensor=kind) if kind else UNKNOWN
    method, receiver = node.func.attr, node.func.value
    if method in ("matmul", "bmm", "mm") and len(node.args) == 1 and not node.keywords:
        return _product_evidence(receiver, node.args[0], imports, resolve_name)
    inner = expression_evidence(receiver, imports, resolve_name)
    if inner.not_tensor == ARRAY or method == "numpy":
        return OperandEvidence(not_tensor=ARRAY)  # an array's methods return arrays
    if method in NON_TENSOR_RESULT_METHODS:
        return OperandEvidence(not_tensor=OBJECT)
    positional = [arg for arg in node.args if not isinstance(arg, ast.Starred)]
    starred = len(positional) != len(node.args)
    is_tensor = method in TENSOR_ONLY_METHODS
    is_float = method in FLOAT_RESULT_METHODS
    if method in ("view", "reshape") and not starred and not node.keywords:
        if len(positional) >= 2 or (len(positional) == 1 and _literal_int(positional[0]) is not None):
            # view(b, n, d) takes sizes; numpy's view takes a dtype, so only a tensor accepts this.
            sizes = tuple(_literal_int(arg) for arg in positional)
            shape = tuple(size if size is not None and size >= 0 else None for size in sizes)
            return OperandEvidence(is_tensor=inner.is_tensor, tensor_methods=method == "view", rank=len(positional), shape=shape)
        if len(positional) == 1 and isinstance(positional[0], (ast.Tuple, ast.List)):
            elements = positional[0].elts
            if not any(isinstance(element, ast.Starred) for element in elements):
                return OperandEvidence(is_tensor=inner.is_tensor, rank=len(elements))
        return OperandEvidence(is_tensor=inner.is_tensor, tensor_methods=method == "view" and len(positional) >= 2)
    if method == "permute" and not starred and positional:
        count = len(positional[0].elts) if len(positional) == 1 and isinstance(positional[0], (ast.Tuple, ast.List)) else len(positional)
        return OperandEvidence(is_tensor=inner.is_tensor, rank=count, tensor_methods=True)
    if method == "unsqueeze":
        return OperandEvidence(
            is_tensor=inner.is_tensor,
            rank=inner.rank + 1 if inner.rank is not None else None,
            is_float=inner.is_float,
            dtype=inner.dtype,
            tensor_methods=True,
        )
    if method in INTEGRAL_RESULT_METHODS and not node.args and not node.keywords:
        return OperandEvidence(is_tensor=inner.is_tensor, rank=inner.rank, tensor_methods=True, integral=True)
    if method in CONVERSION_METHODS and (node.args or node.keywords):
        stated, integral = _converted_dtype(node, imports)
        if stated is not None or integral:
            # .to(torch.float16), .to(device, dtype=torch.long), .type(torch.bfloat16): a stated dtype
            return OperandEvidence(
                is_tensor=inner.is_tensor, tensor_methods=True, rank=inner.rank, is_float=stated is not None, dtype=stated, integral=integral
            )
    if method in RANK_PRESERVING_METHODS:
        keeps_dtype = method not in ("to", "type_as") and method not in METHOD_DTYPES
        # A tensor argument of an elementwise method broadcasts and promotes; a literal number does not.
        keeps_shape = method not in BROADCASTING_METHODS or all(_is_number(arg) for arg in node.args)
        dtype = METHOD_DTYPES.get(method) or (inner.dtype if keeps_dtype and keeps_shape else None)
        if any(keyword.arg == "dtype" for keyword in node.keywords):  # softmax(dim, dtype=...)
            dtype = None
            keeps_dtype = False
        # A tensor-like argument's __torch_function__ would decide the result: every argument must be
        # a number or a proven tensor.
        arguments_proven = all(_is_number(arg) or expression_evidence(arg, imports, resolve_name).is_tensor for arg in node.args)
        return OperandEvidence(
            is_tensor=inner.is_tensor and (keeps_shape or arguments_proven),
            tensor_methods=is_tensor or inner.is_tensor or inner.tensor_methods,
            rank=inner.rank if keeps_shape else None,
            is_float=is_float or (inner.is_float and keeps_dtype),
            dtype=dtype,
            integral=inner.integral and keeps_dtype and not is_float and method not in BROADCASTING_METHODS,
        )
    if inner.is_tensor and method in TENSOR_TO_TENSOR_METHODS:
        return OperandEvidence(is_tensor=True, tensor_methods=True)
    return OperandEvidence(tensor_methods=True) if is_tensor else UNKNOWN


def _product_evidence(left: ast.expr, right: ast.expr, imports: ImportTable, resolve_name) -> OperandEvidence:
    """A matrix product: its rank follows from the operands' (both at least 2-D: the larger rank,
    batch dimensions broadcast); a tensor when both are tensors. (bmm and mm raise unless the ranks
    are 3 and 2, so the same rule holds for them.)"""
    first = expression_evidence(left, imports, resolve_name)
    second = expression_evidence(right, imports, resolve_name)
    if ARRAY in (first.not_tensor, second.not_tensor):
        return OperandEvidence(not_tensor=ARRAY)
    rank = None
    if first.rank is not None and second.rank is not None and first.rank >= 2 and second.rank >= 2:
        rank = max(first.rank, second.rank)
    return OperandEvidence(
        is_tensor=first.is_tensor and second.is_tensor,
        rank=rank,
        tensor_methods=first.tensor_methods or second.tensor_methods,
        integral=first.integral or second.integral,
        claimed_rank=first.claimed_rank if first.claimed_rank is not None else second.claimed_rank,
    )


def states_dense_layout(call: ast.Call, imports: ImportTable) -> bool:
    """A factory call with no ``layout=`` or ``layout=torch.strided``: it makes a dense tensor."""
    for keyword in call.keywords:
        if keyword.arg == "layout" or keyword.arg is None:
            return keyword.arg == "layout" and qualified_name(keyword.value, imports) == "torch.strided"
    return True


def _non_tensor_call(qualified: str) -> str | None:
    """ARRAY for a function of an array library other than torch, OBJECT for a class outside torch (by
    the naming convention): what calling it returns is not a torch tensor. None when it may be one."""
    if qualified.split(".", 1)[0] in NON_TENSOR_MODULES:
        return ARRAY
    if not qualified.startswith(TENSOR_RESULT_PREFIXES) and qualified.rsplit(".", 1)[-1][:1].isupper():
        return OBJECT
    return None


def _is_number(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool)


def _is_tensor_function(qualified: str) -> bool:
    # torch.nn.* are classes (modules) or functional ops; functional ops return tensors, classes do not.
    leaf = qualified.rsplit(".", 1)[-1]
    return not leaf[:1].isupper()


def _factory_shape(call: ast.Call, qualified: str) -> tuple[int | None, ...] | None:
    args = call.args[:1] if qualified == "torch.full" else call.args
    if any(isinstance(arg, ast.Starred) for arg in args) or any(k.arg in ("size", "out") for k in call.keywords):
        return None
    if len(args) == 1 and isinstance(args[0], (ast.Tuple, ast.List)):
        elements = args[0].elts
        if any(isinstance(element, ast.Starred) for element in elements):
            return None
        return tuple(_literal_int(element) for element in elements)
    if len(args) == 1 and not _could_be_int(args[0]):
        return None  # a torch.Size or a list held in a variable
    if qualified == "torch.full":
        return None
    return tuple(_literal_int(arg) for arg in args)


def _could_be_int(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, int)


def _literal_int(node: ast.expr) -> int | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    return None


def _converted_dtype(call: ast.Call, imports: ImportTable) -> tuple[str | None, bool]:
    """The dtype ``x.to(...)`` or ``x.type(...)`` converts to, where a torch dtype is written: (the
    floating dtype, or None; whether it is an integer or bool dtype). ``.to(other)`` (another
    tensor's dtype) and a dtype held in a variable say nothing."""
    written = [*call.args, *(keyword.value for keyword in call.keywords if keyword.arg == "dtype")]
    for argument in written:
        qualified = qualified_name(argument, imports) or ""
        if qualified in FLOAT_DTYPES:
            return FLOAT_DTYPES[qualified], False
        if qualified in INTEGRAL_DTYPES or qualified in INTEGRAL_ANNOTATIONS:
            return None, True  # x.type(torch.LongTensor) converts too
    return None, False


def _states_integral_dtype(call: ast.Call, imports: ImportTable) -> bool:
    return any(keyword.arg == "dtype" and qualified_name(keyword.value, imports) in INTEGRAL_DTYPES for keyword in call.keywords)


def _factory_dtype(call: ast.Call, qualified: str, imports: ImportTable) -> str | None:
    """The floating dtype a factory call produces, when the call states it (or leaves it to the default
    for randn/rand, which only produce floating tensors)."""
    for keyword in call.keywords:
        if keyword.arg == "dtype":
            return FLOAT_DTYPES.get(qualified_name(keyword.value, imports) or "")
    return DEFAULT_FLOAT if qualified in FLOAT_FACTORIES else None


def qualified_name(node: ast.expr, imports: ImportTable) -> str | None:
    dotted = dotted_name(node)
    return imports.qualify(dotted) if dotted else None


@dataclass
class _NameFacts:
    bindings: list[ast.AST] = field(default_factory=list)
    facts: list[tuple[ast.stmt, OperandEvidence]] = field(default_factory=list)


class FunctionFacts:
    """Facts about the local names of one function (or of a module's top level)."""

    def __init__(
        self,
        scope: ast.AST,
        imports: ImportTable,
        lines: list[str] | None = None,
        has_walrus: bool = True,
        has_pragmas: bool = True,
        declared_elsewhere: frozenset[str] = frozenset(),
        bound_names: dict[int, tuple[str, ...]] | None = None,
    ) -> None:
        self.imports = imports
        self.scope = scope
        # Names a ``global`` or ``nonlocal`` statement somewhere in the file declares: other scopes
        # rebind them, so no fact about them holds.
        self.declared_elsewhere = declared_elsewhere
        self._shared: SharedTensors | None = None
        self.has_walrus = has_walrus
        self.has_pragmas = has_pragmas and lines is not None
        self.names: dict[str, _NameFacts] = {}
        # statement -> (id of the body list holding it, its index there)
        self.location: dict[int, tuple[int, int]] = {}
        # id of a body list -> (the list, the compound statement that holds it; None for the scope's own)
        self.bodies: dict[int, tuple[list[ast.stmt], ast.stmt | None]] = {}
        self._bound_by: dict[int, frozenset[str]] = {}
        # id of each statement the walk recorded -> the names it binds itself (not in nested blocks);
        # shared with block_bindings over the same tree when the caller passes ``bound_names``
        self._own_bindings: dict[int, tuple[str, ...]] = bound_names if bound_names is not None else {}
        # Results of queries over this scope (evidence.reaching), by query; they depend only on the code.
        self.memo: dict = {}
        self._binders: dict[int, dict[str, list[int]]] = {}
        self._name_uses: dict[tuple[str, type], int] | None = None
        if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            self._parameters(scope)
        self._walk(scope.body if isinstance(scope.body, list) else [], lines)

    def _entry(self, name: str) -> _NameFacts:
        return self.names.setdefault(name, _NameFacts())

    def _parameters(self, function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        arguments = function.args
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
        for argument in every:
            entry = self._entry(argument.arg)
            entry.bindings.append(argument)
            evidence = _annotation_evidence(getattr(argument, "annotation", None), self.imports)
            if evidence is not UNKNOWN:
                entry.facts.append((function, evidence))  # type: ignore[arg-type]

    def _walk(self, body: list[ast.stmt], lines: list[str] | None, owner: ast.stmt | None = None) -> None:
        self.bodies[id(body)] = (body, owner)
        for index, statement in enumerate(body):
            self.location[id(statement)] = (id(body), index)
            self._record(statement, lines)
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self._entry(statement.name).bindings.append(statement)
                if isinstance(statement, ast.ClassDef):
                    # A class body is not a scope of its own here: code in it is read with this scope's
                    # facts, so a name it rebinds is not trusted anywhere in this scope.
                    for node in _block_names(statement.body, self.has_walrus):
                        self._entry(node.id).bindings.append(statement)
                continue  # a nested scope: its names are its own
            for name in ("body", "orelse", "finalbody"):
                child = getattr(statement, name, None)
                if isinstance(child, list):
                    self._walk(child, lines, statement)
            for handler in getattr(statement, "handlers", ()):
                if handler.name:
                    self._entry(handler.name).bindings.append(handler)
                self._walk(handler.body, lines, statement)
            for case in getattr(statement, "cases", ()):
                for node in ast.walk(case.pattern):
                    captured = getattr(node, "name", None) or getattr(node, "rest", None)
                    if isinstance(captured, str):
                        self._entry(captured).bindings.append(statement)
                self._walk(case.body, lines, statement)

    def _record(self, statement: ast.stmt, lines: list[str] | None) -> None:
        for name in _own_bound_names(statement, self.has_walrus, self._own_bindings):
            self._entry(name).bindings.append(statement)
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
            if isinstance(target, ast.Name):
                evidence = expression_evidence(statement.value, self.imports)
                if evidence is not UNKNOWN:
                    self._entry(target.id).facts.append((statement, evidence))
            elif (
                isinstance(target, (ast.Tuple, ast.List))
                and _is_shape_of(statement.value)
                and not any(isinstance(element, ast.Starred) for element in target.elts)
            ):
                owner = statement.value.value.id  # type: ignore[attr-defined]
                labels = tuple(element.id if isinstance(element, ast.Name) else "_" for element in target.elts)
                self._entry(owner).facts.append((statement, OperandEvidence(rank=len(target.elts), labels=labels)))
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            evidence = _annotation_evidence(statement.annotation, self.imports)
            if statement.value is not None:
                from_value = expression_evidence(statement.value, self.imports)
                evidence = merge_evidence(evidence, from_value)
            if evidence is not UNKNOWN:
                self._entry(statement.target.id).facts.append((statement, evidence))
        elif isinstance(statement, ast.Assert):
            for name, rank in _asserted_ranks(statement.test):
                self._entry(name).facts.append((statement, OperandEvidence(rank=rank)))
        elif isinstance(statement, ast.If):
            # ``if x.ndim == 1:``: a fact inside the body only (see evidence_at)
            for name, rank in _asserted_ranks(statement.test):
                self._entry(name).facts.append((statement, OperandEvidence(rank=rank)))
        if lines is not None and statement.end_lineno is not None and self.has_pragmas:
            match = _PRAGMA.search(lines[statement.end_lineno - 1]) if statement.end_lineno <= len(lines) else None
            if match:
                for name, labels in _pragma_shapes(match.group(1)):
                    self._entry(name).facts.append((statement, OperandEvidence(rank=len(labels), labels=labels)))

    def name_uses(self, scope: ast.AST, name: str, *contexts: type[ast.expr_context]) -> int:
        """How many ``ast.Name`` nodes anywhere in ``scope`` (nested functions included) read ``name``
        in one of ``contexts``. Counted for every name in one walk of this scope: asked once per
        operand, a walk each time was quadratic in the function's size."""
        if scope is not self.scope:
            return sum(1 for node in ast.walk(scope) if isinstance(node, ast.Name) and node.id == name and type(node.ctx) in contexts)
        if self._name_uses is None:
            counts: dict[tuple[str, type], int] = {}
            for node in code_nodes(scope):
                if type(node) is ast.Name:
                    key = (node.id, type(node.ctx))
                    counts[key] = counts.get(key, 0) + 1
            self._name_uses = counts
        return sum(self._name_uses.get((name, context), 0) for context in contexts)

    def names_bound_by(self, statement: ast.stmt) -> frozenset[str]:
        """The names ``statement`` binds, its nested blocks included (nested scopes excluded)."""
        key = id(statement)
        found = self._bound_by.get(key)
        if found is None:
            own = self._own_bindings.get(key)
            if own is not None and type(statement) not in BLOCK_STATEMENTS:
                return frozenset(own)  # a simple statement: what the walk found is all
            found = self._bound_by[key] = frozenset(self._names_bound_in(statement))
        return found

    def _names_bound_in(self, statement: ast.stmt):
        """What ``_block_names([statement])`` yields, as names, reusing what the walk found for each
        statement and what this method found for nested ones."""
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield statement.name
            return
        own = self._own_bindings.get(id(statement))
        yield from own if own is not None else (node.id for node in _bound_names(statement, self.has_walrus))
        for name in ("body", "orelse", "finalbody"):
            for child in getattr(statement, name, None) or ():
                yield from self.names_bound_by(child)
        for handler in getattr(statement, "handlers", ()):
            if handler.name:
                yield handler.name
            for child in handler.body:
                yield from self.names_bound_by(child)
        for case in getattr(statement, "cases", ()):
            for node in ast.walk(case.pattern):
                captured = getattr(node, "name", None) or getattr(node, "rest", None)
                if isinstance(captured, str):
                    yield captured
            for child in case.body:
                yield from self.names_bound_by(child)

    def binding_positions(self, body_id: int) -> dict[str, list[int]]:
        """For one body: each name -> the indices (ascending) of its statements that bind the name, so
        that finding the last binding before a use is a binary search, not a scan."""
        if body_id not in self._binders:
            positions: dict[str, list[int]] = {}
            body = self.bodies[body_id][0]
            for index, statement in enumerate(body):
                for name in self.names_bound_by(statement):
                    positions.setdefault(name, []).append(index)
            self._binders[body_id] = positions
        return self._binders[body_id]

    def evidence_at(self, name: str, use_chain: list[tuple[int, int]]) -> OperandEvidence:
        """Facts about ``name`` at a use whose enclosing statements sit at ``use_chain`` (a list of
        (body id, index) pairs, one per enclosing statement)."""
        entry = self.names.get(name)
        if entry is None or len(entry.bindings) > 1 or name in self.declared_elsewhere:
            return UNKNOWN
        binding = entry.bindings[0] if entry.bindings else None
        result = UNKNOWN
        for statement, evidence in entry.facts:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                result = merge_evidence(result, evidence)  # parameter annotation: holds from the start
                continue
            if binding is not None and binding is not statement and not isinstance(binding, ast.arg):
                if self._dominates(binding, use_chain) is False or _line(binding) > _line(statement):
                    continue
            if isinstance(statement, ast.If):
                if not any(body == id(statement.body) for body, _ in use_chain):
                    continue
            elif not self._dominates(statement, use_chain):
                continue
            if has_shape_facts(evidence) and self.stale(name, fact_position(statement, statement is binding), use_chain):
                evidence = without_shape_facts(evidence)
            result = merge_evidence(result, evidence)
        return result

    def stale(self, name: str, fact_at: int, use_chain: list[tuple[int, int]] | tuple[tuple[int, int], ...]) -> bool:
        """May ``name``'s tensor have changed shape or dtype in place (through another reference, a
        helper, a loop's next iteration) after the fact at ``fact_at`` (see fact_position) and before
        the use at ``use_chain``? See evidence.stability."""
        if name in self.declared_elsewhere:
            return True
        if self._shared is None:
            parameters = list(self.names_of_parameters())
            body = self.scope.body if isinstance(self.scope.body, list) else []  # type: ignore[attr-defined]
            self._shared = SharedTensors(body, parameters, self.imports, module=isinstance(self.scope, ast.Module))
            if isinstance(self.scope, ast.Module):
                self._shared.shared.update(self.names)  # reachable from every function, and through globals()
        if name not in self._shared.shared:
            return False
        if not use_chain:
            return self._shared.stale(name, fact_at, 1 << 62, frozenset())
        loops = set()
        for body_id, _ in use_chain:
            owner = self.bodies[body_id][1] if body_id in self.bodies else None
            if isinstance(owner, (ast.For, ast.AsyncFor, ast.While)):
                loops.add(id(owner))
        body_id, index = use_chain[-1]
        statement = self.bodies[body_id][0][index] if body_id in self.bodies else None
        if isinstance(statement, (ast.For, ast.AsyncFor, ast.While)):
            loops.add(id(statement))  # a use in the loop's header runs again after the body
        use_at = statement_position(statement) if statement is not None else 1 << 62
        return self._shared.stale(name, fact_at, use_at, frozenset(loops))

    def names_of_parameters(self):
        arguments = getattr(self.scope, "args", None)
        if not isinstance(arguments, ast.arguments):
            return
        for argument in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg):
            if argument is not None:
                yield argument.arg

    def statement_at(self, chain: tuple[tuple[int, int], ...]) -> ast.stmt | None:
        """The statement the last pair of ``chain`` locates."""
        if not chain or chain[-1][0] not in self.bodies:
            return None
        body_id, index = chain[-1]
        return self.bodies[body_id][0][index]

    def dominates(self, statement: ast.AST, use_chain: list[tuple[int, int]]) -> bool:
        """Does ``statement`` run before the use on every path to it (same or enclosing block, earlier)?"""
        return self._dominates(statement, use_chain)

    def _dominates(self, statement: ast.AST, use_chain: list[tuple[int, int]]) -> bool:
        place = self.location.get(id(statement))
        if place is None:
            return False
        body, index = place
        return any(use_body == body and use_index > index for use_body, use_index in use_chain)

    def use_chain(self, ancestors: tuple[ast.AST, ...], statement: ast.AST) -> list[tuple[int, int]]:
        return [self.location[id(node)] for node in (*ancestors, statement) if id(node) in self.location]


def _line(node: ast.AST) -> int:
    return getattr(node, "lineno", 0)


def fact_position(statement: ast.AST, binds_the_name: bool) -> int:
    """Where a fact starts to hold, comparable with statement_position: a statement that binds the name
    (``a = torch.zeros(...)``, one target) establishes it after everything it evaluates; any other
    (``assert``, ``b, n, d = x.shape``) at its start, so that a hazard inside it counts."""
    one_target = not isinstance(statement, ast.Assign) or len(statement.targets) == 1
    return statement_position(statement) + (1 if binds_the_name and one_target else 0)


def has_shape_facts(evidence: OperandEvidence) -> bool:
    return evidence.rank is not None or evidence.shape is not None or evidence.labels is not None or evidence.dtype is not None or evidence.is_float


def without_shape_facts(evidence: OperandEvidence) -> OperandEvidence:
    """What still holds of a tensor after it may have changed in place: that it is a tensor (or is not
    one) and what the code states of it; not its rank, sizes or dtype (``.data =`` replaces those)."""
    return replace(evidence, rank=None, shape=None, labels=None, dtype=None, is_float=False)


def merge_evidence(first: OperandEvidence, second: OperandEvidence) -> OperandEvidence:
    if first is UNKNOWN:
        return second
    if second is UNKNOWN:
        return first
    return replace(
        first,
        is_tensor=first.is_tensor or second.is_tensor,
        rank=first.rank if first.rank is not None else second.rank,
        shape=first.shape if first.shape is not None else second.shape,
        is_float=first.is_float or second.is_float,
        labels=first.labels if first.labels is not None else second.labels,
        dtype=_agreed(first.dtype, second.dtype),
        not_tensor=first.not_tensor or second.not_tensor,
        tensor_methods=first.tensor_methods or second.tensor_methods,
        claimed_rank=first.claimed_rank if first.claimed_rank is not None else second.claimed_rank,
    )


def _agreed(first: str | None, second: str | None) -> str | None:
    """The dtype two facts give; two facts that name different dtypes contradict: neither is trusted."""
    if first is None or second is None:
        return first or second
    return first if first == second else None


def _bound_names(statement: ast.stmt, has_walrus: bool = True):
    targets: list[ast.expr] = []
    if isinstance(statement, ast.Assign):
        targets = list(statement.targets)
    elif isinstance(statement, (ast.AugAssign, ast.AnnAssign)):
        targets = [statement.target] if not (isinstance(statement, ast.AnnAssign) and statement.value is None) else []
    elif isinstance(statement, (ast.For, ast.AsyncFor)):
        targets = [statement.target]
    elif isinstance(statement, (ast.With, ast.AsyncWith)):
        targets = [item.optional_vars for item in statement.items if item.optional_vars is not None]
    elif isinstance(statement, ast.Delete):
        targets = list(statement.targets)
    elif isinstance(statement, (ast.Import, ast.ImportFrom)):
        for alias in statement.names:
            yield ast.Name(id=(alias.asname or alias.name).split(".")[0])
    elif isinstance(statement, (ast.Global, ast.Nonlocal)):
        for name in statement.names:
            yield ast.Name(id=name)
            yield ast.Name(id=name)  # counted twice: a global's value is never trusted
    for target in targets:
        yield from _target_names(target)
        if isinstance(target, ast.Attribute) and replaces_tensor(target.attr) and isinstance(target.value, ast.Name):
            yield target.value  # x.data = ..., x.__class__ = ...: x holds another tensor, or another kind of one
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        method = statement.value.func
        if isinstance(method, ast.Attribute) and method.attr in SHAPE_CHANGING_IN_PLACE and isinstance(method.value, ast.Name):
            yield method.value
    # Walrus targets anywhere in the statement's own expressions (a costly walk, skipped when the file
    # has no ':=').
    if has_walrus and not isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        for node in _own_expressions(statement):
            if isinstance(node, ast.NamedExpr) and isinstance(node.target, ast.Name):
                yield node.target


def block_bindings(body: list[ast.stmt], has_walrus: bool = True, bound_names: dict[int, tuple[str, ...]] | None = None):
    """(binding statement, name) for each name the statements of a block bind, nested blocks
    included, nested scopes excluded. ``bound_names``, when given, keeps what each statement binds
    itself (by id: the statements must outlive it), for FunctionFacts of the same tree to reuse."""
    for statement in body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield statement, statement.name
            continue
        for name in _own_bound_names(statement, has_walrus, bound_names):
            yield statement, name
        for name in ("body", "orelse", "finalbody"):
            child = getattr(statement, name, None)
            if isinstance(child, list):
                yield from block_bindings(child, has_walrus, bound_names)
        for handler in getattr(statement, "handlers", ()):
            if handler.name:
                yield handler, handler.name
            yield from block_bindings(handler.body, has_walrus, bound_names)
        for case in getattr(statement, "cases", ()):
            for node in ast.walk(case.pattern):
                captured = getattr(node, "name", None) or getattr(node, "rest", None)
                if isinstance(captured, str):
                    yield statement, captured
            yield from block_bindings(case.body, has_walrus, bound_names)


def _own_bound_names(statement: ast.stmt, has_walrus: bool, bound_names: dict[int, tuple[str, ...]] | None) -> tuple[str, ...]:
    """The names ``statement`` binds itself (see _bound_names), from ``bound_names`` if known there."""
    names = bound_names.get(id(statement)) if bound_names is not None else None
    if names is None:
        names = tuple(node.id for node in _bound_names(statement, has_walrus))
        if bound_names is not None:
            bound_names[id(statement)] = names
    return names


def _block_names(body: list[ast.stmt], has_walrus: bool):
    """Names the statements of a block bind, nested blocks included, nested scopes excluded."""
    for statement in body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield ast.Name(id=statement.name)
            continue
        yield from _bound_names(statement, has_walrus)
        for name in ("body", "orelse", "finalbody"):
            child = getattr(statement, name, None)
            if isinstance(child, list):
                yield from _block_names(child, has_walrus)
        for handler in getattr(statement, "handlers", ()):
            if handler.name:
                yield ast.Name(id=handler.name)
            yield from _block_names(handler.body, has_walrus)
        for case in getattr(statement, "cases", ()):
            for node in ast.walk(case.pattern):
                captured = getattr(node, "name", None) or getattr(node, "rest", None)
                if isinstance(captured, str):
                    yield ast.Name(id=captured)  # ``case [m, n]:`` binds m and n
            yield from _block_names(case.body, has_walrus)


def _target_names(target: ast.expr):
    """Names an assignment target binds: ``a``, ``a, (b, *c)``; not the ``x`` of ``x.attr = ...`` or
    ``x[i] = ...``, which mutate an object but do not rebind the name."""
    if isinstance(target, ast.Name):
        yield target
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _target_names(element)
    elif isinstance(target, ast.Starred):
        yield from _target_names(target.value)


def _own_expressions(statement: ast.stmt):
    for name, value in ast.iter_fields(statement):
        if name in ("body", "orelse", "finalbody", "handlers", "cases"):
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, ast.AST):
                yield from code_nodes(item)


def _is_shape_of(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "shape" and isinstance(node.value, ast.Name)


def _asserted_ranks(test: ast.expr) -> list[tuple[str, int]]:
    """``x.ndim == 3``, ``x.dim() == 3``, ``len(x.shape) == 3``, joined with ``and``."""
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return [pair for value in test.values for pair in _asserted_ranks(value)]
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return []
    left, right = test.left, test.comparators[0]
    if isinstance(left, ast.Constant):
        left, right = right, left
    rank = _literal_int(right)
    if rank is None:
        return []
    name = None
    if isinstance(left, ast.Attribute) and left.attr == "ndim" and isinstance(left.value, ast.Name):
        name = left.value.id
    elif isinstance(left, ast.Call) and not left.args:
        func = left.func
        if isinstance(func, ast.Attribute) and func.attr in ("dim", "ndimension") and isinstance(func.value, ast.Name):
            name = func.value.id
    elif isinstance(left, ast.Call) and isinstance(left.func, ast.Name) and left.func.id == "len" and len(left.args) == 1:
        inner = left.args[0]
        if _is_shape_of(inner):
            name = inner.value.id  # type: ignore[attr-defined]
    return [(name, rank)] if name else []


def _annotation_evidence(annotation: ast.expr | None, imports: ImportTable) -> OperandEvidence:
    """What an annotation says. ``x: torch.Tensor`` (or jaxtyping's ``Float[Tensor, "b n d"]``) rules out
    a numpy array but proves nothing else: Python never checks it, and a sparse tensor, a
    ``__torch_function__`` subclass or a wrapper satisfies it as well as a dense tensor does. Its rank
    and dtype are claims, not facts, so a fix that needs them names them as assumptions."""
    if annotation is None:
        return UNKNOWN
    qualified = qualified_name(annotation, imports)
    if qualified in TENSOR_ANNOTATIONS:
        return OperandEvidence(tensor_methods=True)
    if qualified in INTEGRAL_ANNOTATIONS:
        # Not proof of an integer tensor, but evidence enough to withdraw a fix that needs floats.
        return OperandEvidence(tensor_methods=True, integral=True)
    if qualified is not None and qualified.split(".", 1)[0] in NON_TENSOR_MODULES:
        return OperandEvidence(not_tensor=ARRAY)  # np.ndarray
    # jaxtyping: Float[Tensor, "b n d"]
    if isinstance(annotation, ast.Subscript) and isinstance(annotation.slice, ast.Tuple):
        kind = dotted_name(annotation.value) or ""
        elements = annotation.slice.elts
        if len(elements) == 2 and isinstance(elements[1], ast.Constant) and isinstance(elements[1].value, str):
            array = qualified_name(elements[0], imports)
            qualified_kind = imports.qualify(kind) or ""
            if array in TENSOR_ANNOTATIONS and qualified_kind.startswith("jaxtyping."):
                dims = elements[1].value.split()
                fixed = not any(dim.startswith("*") or dim == "..." or dim.startswith("#") for dim in dims)
                return OperandEvidence(
                    tensor_methods=True,
                    claimed_rank=len(dims) if fixed else None,
                    integral=kind.rsplit(".", 1)[-1] in _JAXTYPING_INTEGRAL,
                )
            if array is not None and array.split(".", 1)[0] in NON_TENSOR_MODULES and qualified_kind.startswith("jaxtyping."):
                return OperandEvidence(not_tensor=ARRAY)
    return UNKNOWN


def viewed_names(scope: ast.AST) -> frozenset[str]:
    """Names in ``scope`` whose value some ``name.view(...)`` reinterprets (nested scopes included)."""
    return frozenset(
        node.func.value.id
        for node in ast.walk(scope)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in VIEW_METHODS and isinstance(node.func.value, ast.Name)
    )


def _pragma_shapes(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """``x=b h n d, y=b n`` -> [("x", ("b","h","n","d")), ("y", ("b","n"))]."""
    result = []
    for part in re.split(r"[;,]\s*(?=\w+\s*=)", text.strip()):
        name, _, dims = part.partition("=")
        if name.strip().isidentifier() and dims.split():
            result.append((name.strip(), tuple(dims.split())))
    return result
