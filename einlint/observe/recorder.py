"""The recorder: loaded only inside the processes of a command run by ``einlint observe``.

It watches only the flagged statements it is handed (file, lines, the code object they run in): a
trace function declines every other code object at its first call, so the rest of the program runs
untraced but for that one check per Python call. At a watched statement it reads the fix's operands
the way the statement will read them, without running any code of the program (a local or global
name, then attributes found in instance dictionaries or a module's parameters, buffers and
submodules; anything else, a property say, is left unread), and records of each value its class,
and of a tensor its rank, shape, dtype, device, layout, contiguity, strides and ``requires_grad``;
never its values. It also records grad mode, autocast state, the statement's result, whether it
raised, and its wall time.

torch is never imported here: a value is a tensor only if torch is already loaded by the program.
What is recorded is written to this process's file in the spool directory every few seconds and at
exit; a forked child starts its own file. ``einlint observe`` merges the files when the command ends.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
import time

from einlint.observe import observations as model

SITES_VARIABLE = "EINLINT_OBSERVE_SITES"
SPOOL_VARIABLE = "EINLINT_OBSERVE_SPOOL"
# How often what was recorded is written out while the program runs (a crash loses at most this).
FLUSH_SECONDS = 2.0
_MISSING = object()
_RETURN_VALUE = "<return>"
# A Parameter or Buffer disables __torch_function__: reading its metadata runs no code of its own.
_PLAIN_TENSOR_CLASSES = ("torch.Tensor", "torch.nn.parameter.Parameter", "torch.nn.parameter.Buffer")


class _Value:
    """What was seen of one value at one site, accumulated."""

    __slots__ = ("reads", "unreadable", "counts", "shapes", "shapes_truncated", "strides", "strides_truncated")

    def __init__(self) -> None:
        self.reads = 0
        self.unreadable = 0
        self.counts: dict[str, dict[str, int]] = {kind: {} for kind in model.COUNTED}
        self.shapes: list[tuple[int, ...]] = []
        self.shapes_truncated = False
        self.strides: list[tuple[int, ...]] = []
        self.strides_truncated = False

    def add(self, facts: tuple | None) -> None:
        if facts is None:
            self.unreadable += 1
            return
        self.reads += 1
        class_name, tensor = facts
        _bump(self.counts["classes"], class_name)
        if tensor is None:
            return
        rank, shape, dtype, device, layout, contiguous, stride, requires_grad = tensor
        counts = self.counts
        _bump(counts["ranks"], str(rank))
        _bump(counts["dtypes"], dtype)
        _bump(counts["devices"], device)
        _bump(counts["layouts"], layout)
        _bump(counts["requires_grad"], "true" if requires_grad else "false")
        if contiguous is not None:
            _bump(counts["contiguous"], "true" if contiguous else "false")
            if not contiguous:
                _bump(counts["non_contiguous"], model.PERMUTED if model.dense_permutation(shape, stride) else model.STRIDED)
        if shape not in self.shapes:
            if len(self.shapes) < model.SHAPE_SAMPLE:
                self.shapes.append(shape)
            else:
                self.shapes_truncated = True
        if stride is not None and stride not in self.strides:
            if len(self.strides) < model.SHAPE_SAMPLE:
                self.strides.append(stride)
            else:
                self.strides_truncated = True

    def facts(self) -> model.ValueFacts:
        counts = {kind: dict(values) for kind, values in self.counts.items() if values}
        return model.ValueFacts(self.reads, self.unreadable, counts, tuple(self.shapes), self.shapes_truncated, tuple(self.strides), self.strides_truncated)


def _bump(counter: dict[str, int], key: str) -> None:
    counter[key] = counter.get(key, 0) + 1


def _labels(term: str) -> list[str]:
    labels, index = [], 0
    while index < len(term):
        if term.startswith("...", index):
            labels.append("...")
            index += 3
            continue
        if not term[index].isspace():
            labels.append(term[index])
        index += 1
    return labels


def _terms(equation: str) -> list[list[str]]:
    """The input terms of an einsum equation, as lists of labels ("..." one label)."""
    return [_labels(term) for term in equation.split("->")[0].split(",")]


def contracted(equation: str) -> frozenset[str]:
    """The labels summed over (absent from the output); every label when the output is implicit."""
    inputs, arrow, output = equation.partition("->")
    labels = {label for term in inputs.split(",") for label in _labels(term)} - {"..."}
    return frozenset(labels - set(_labels(output))) if arrow else frozenset(labels)


def mismatched_labels(terms: list[list[str]], shapes: list[tuple[int, ...]], summed: frozenset[str]) -> set[str] | None:
    """The summed labels whose dimensions have different sizes across (or within) the operands; None
    when an operand's rank does not fit its term (einsum raises: nothing to compare). A label kept in
    the output broadcasts a size-1 dimension in einsum as in matmul's batch dimensions and in
    elementwise products, and raises on other differences in both: only a summed one differs."""
    sizes: dict[str, int] = {}
    mismatched: set[str] = set()
    for term, shape in zip(terms, shapes):
        if "..." in term:
            cut = term.index("...")
            before, after = term[:cut], term[cut + 1 :]
            if len(shape) < len(before) + len(after):
                return None
            pairs = list(zip(before, shape)) + list(zip(after, shape[len(shape) - len(after) :]))
        else:
            if len(shape) != len(term):
                return None
            pairs = list(zip(term, shape))
        for label, size in pairs:
            if sizes.setdefault(label, size) != size and label in summed:
                mismatched.add(label)
    return mismatched


class _Rewrite:
    """A fix's einsum at a site, and what its operands and result showed about it."""

    __slots__ = ("key", "equation", "terms", "summed", "operands", "replaces_value", "executions", "mismatches", "compared", "same")

    def __init__(self, entry: dict) -> None:
        self.key = entry["key"]
        self.equation = entry["equation"]
        self.terms = _terms(self.equation)
        self.summed = contracted(self.equation)
        self.operands = list(entry["operands"])
        self.replaces_value = bool(entry["replaces_value"])
        self.reset()

    def reset(self) -> None:
        self.executions = 0
        self.mismatches: dict[str, int] = {}
        self.compared = 0
        self.same = 0

    def facts(self) -> model.RewriteFacts:
        return model.RewriteFacts(self.executions, dict(self.mismatches), self.compared, self.same)


class _Site:
    """One watched statement and what its executions showed."""

    __slots__ = (
        "key", "line", "end_line", "operands", "result_name", "rewrites", "executions", "raised", "seconds", "grad", "autocast",
        "mismatches", "values", "result",
    )  # fmt: skip

    def __init__(self, entry: dict) -> None:
        self.key = tuple(entry["key"])
        self.line = entry["line"]
        self.end_line = entry["end_line"]
        self.operands = [(text, tuple(access)) for text, access in entry["operands"]]
        self.result_name = entry.get("result")
        self.rewrites = [_Rewrite(rewrite) for rewrite in entry.get("rewrites", ())]
        self.reset()

    def reset(self) -> None:
        self.executions = 0
        self.raised = 0
        self.seconds = 0.0
        self.grad: dict[str, int] = {}
        self.autocast: dict[str, int] = {}
        self.mismatches = 0
        self.values = {text: _Value() for text, _ in self.operands}
        self.result = _Value() if self.result_name else None
        for rewrite in self.rewrites:
            rewrite.reset()

    def observation(self) -> model.SiteObservation:
        path, line, digest = self.key
        return model.SiteObservation(
            path, line, digest, self.executions, self.raised, self.seconds, dict(self.grad), dict(self.autocast), self.mismatches,
            {text: value.facts() for text, value in self.values.items()},
            self.result.facts() if self.result is not None and (self.result.reads or self.result.unreadable) else None,
            {rewrite.key: rewrite.facts() for rewrite in self.rewrites if rewrite.executions},
        )  # fmt: skip


class Recorder:
    def __init__(self, table: list[dict], spool: str) -> None:
        self.spool = spool
        self.start_directory = os.getcwd()
        self.sites = [_Site(entry) for entry in table]
        # Real path of a file -> [(scope name, scope first lines, site)].
        self.by_file: dict[str, list[tuple[str, tuple[int, ...], _Site]]] = {}
        for entry, site in zip(table, self.sites):
            self.by_file.setdefault(entry["file"], []).append((entry["scope_name"], tuple(entry["scope_lines"]), site))
        self.files_seen: dict[str, list | None] = {}  # a code object's file name -> its watched sites, or None
        self.codes_seen: dict[object, dict[int, _Site] | None] = {}
        self.lock = threading.Lock()
        self.last_flush = time.perf_counter()
        self.class_names: dict[type, str] = {}
        self.layouts: dict[tuple, tuple | None] = {}  # (equation, operands' metadata) -> result (shape, strides)

    # --- deciding what to watch -------------------------------------------------------------------
    def global_trace(self, frame, event, arg):
        code = frame.f_code
        in_file = self.files_seen.get(code.co_filename, _MISSING)
        if in_file is None:
            return None
        if in_file is _MISSING:
            in_file = self._file_sites(code.co_filename)
            if in_file is None:
                return None
        lines = self.codes_seen.get(code, _MISSING)
        if lines is _MISSING:
            lines = self._code_sites(code, in_file)
        if lines is None:
            return None
        return _FrameTracer(self, lines).trace

    def _file_sites(self, filename: str) -> list | None:
        path = os.path.realpath(os.path.join(self.start_directory, filename)) if not filename.startswith("<") else ""
        found = self.by_file.get(path)
        self.files_seen[filename] = found
        return found

    def _code_sites(self, code, in_file: list) -> dict[int, _Site] | None:
        lines: dict[int, _Site] = {}
        for scope_name, scope_lines, site in in_file:
            if code.co_name == scope_name and (scope_name == "<module>" or code.co_firstlineno in scope_lines):
                for line in range(site.line, site.end_line + 1):
                    lines[line] = site
        found = lines or None
        self.codes_seen[code] = found
        return found

    # --- reading values ---------------------------------------------------------------------------
    def describe(self, value: object) -> tuple:
        """(class name, tensor facts or None) of a value; reads a tensor's metadata only."""
        kind = type(value)
        name = self.class_names.get(kind)
        if name is None:
            name = f"{getattr(kind, '__module__', '?')}.{getattr(kind, '__qualname__', kind.__name__)}"
            self.class_names[kind] = name
        if name not in _PLAIN_TENSOR_CLASSES:
            return name, None
        torch = sys.modules.get("torch")
        if torch is None:
            return name, None
        # A torch function mode the program has entered (a device context, say) must not see these calls.
        with torch._C.DisableTorchFunction():
            shape = tuple(value.shape)
            layout = str(value.layout)
            strided = layout == "torch.strided"
            contiguous = value.is_contiguous() if strided else None
            stride = tuple(value.stride()) if strided else None
            return name, (len(shape), shape, str(value.dtype), value.device.type, layout, contiguous, stride, bool(value.requires_grad))

    def rewrite_layout(self, equation: str, operands: list[tuple]) -> tuple | None:
        """(shape, strides) of ``torch.einsum(equation, ...)`` on meta tensors with the operands'
        shapes, strides and dtypes: what the rewrite would return, computed without their values."""
        key = (equation, tuple((facts[1], facts[6], facts[2]) for facts in operands))
        if key in self.layouts:
            return self.layouts[key]
        torch = sys.modules.get("torch")
        layout = None
        # A dispatch mode the program entered would see these calls: compute nothing then.
        if torch is not None and getattr(torch._C, "_len_torch_dispatch_stack", lambda: 1)() == 0:
            try:
                with torch._C.DisableTorchFunction(), torch.no_grad():
                    tensors = [torch.empty_strided(facts[1], facts[6], dtype=getattr(torch, facts[2].rsplit(".", 1)[-1]), device="meta") for facts in operands]
                    result = torch.einsum(equation, *tensors)
                    layout = (tuple(result.shape), tuple(result.stride()))
            except Exception:  # noqa: BLE001 - the rewrite would raise, or meta tensors cannot say
                layout = None
        if len(self.layouts) < 1024:
            self.layouts[key] = layout
        return layout

    def modes(self) -> tuple[str, str, str | None]:
        torch = sys.modules.get("torch")
        if torch is None:
            return "false", "off", None
        grad = "true" if torch.is_grad_enabled() else "false"
        autocast = "off"
        for device in ("cpu", "cuda"):
            try:
                if torch.is_autocast_enabled(device):
                    autocast = f"{device}:{torch.get_autocast_dtype(device)}"
                    break
            except (TypeError, RuntimeError, AttributeError):
                continue
        return grad, autocast, None

    # --- writing ----------------------------------------------------------------------------------
    def flush(self) -> None:
        with self.lock:
            recorded = [site.observation() for site in self.sites if site.executions]
            self.last_flush = time.perf_counter()
        if not recorded:
            return
        data = {model.FORMAT_KEY: model.FORMAT_VERSION, "sites": [site.to_json() for site in recorded]}
        try:
            model.write_json(_spool_file(self.spool), data)
        except OSError:
            pass  # the spool directory is gone (einlint observe was interrupted): nothing to keep

    def after_fork(self) -> None:
        """A forked child records for itself: what the parent recorded stays the parent's."""
        self.lock = threading.Lock()
        for site in self.sites:
            site.reset()
        self.last_flush = time.perf_counter()


def _spool_file(spool: str):
    from pathlib import Path

    return Path(spool) / f"run-{os.getpid()}.json"


def read_value(access: tuple[str, ...], frame_locals: dict, frame_globals: dict, local_names: frozenset[str] | tuple = ()) -> object:
    """The value of ``name.attr.attr`` as the statement would read it, or _MISSING where reading it
    could run code of the program (a property, ``__getattr__``, a descriptor with side effects).
    ``local_names``: a function's local variables, which never fall back to a global when unbound."""
    name = access[0]
    if name in frame_locals:
        value = frame_locals[name]
    elif name in local_names:
        return _MISSING
    elif name in frame_globals:
        value = frame_globals[name]
    else:
        builtins = frame_globals.get("__builtins__")
        builtins = builtins if isinstance(builtins, dict) else getattr(builtins, "__dict__", {})
        if name not in builtins:
            return _MISSING
        value = builtins[name]
    for attribute in access[1:]:
        value = _static_attribute(value, attribute)
        if value is _MISSING:
            return _MISSING
    return value


def _static_attribute(value: object, attribute: str) -> object:
    kind = type(value)
    for klass in kind.__mro__:
        if attribute in klass.__dict__:
            # A class attribute: a descriptor (property, slot, method) would run code or bind.
            found = klass.__dict__[attribute]
            if hasattr(type(found), "__get__"):
                return _MISSING
            break
    try:
        namespace = object.__getattribute__(value, "__dict__")
    except (AttributeError, TypeError):
        return _MISSING
    if not isinstance(namespace, dict):
        return _MISSING
    if attribute in namespace:
        return namespace[attribute]
    for klass in kind.__mro__:
        if attribute in klass.__dict__:
            return klass.__dict__[attribute]
    # torch.nn.Module keeps parameters, buffers and submodules outside __dict__, found by its own
    # __getattr__; read them the same way, but only where that __getattr__ is torch's.
    getattr_owner = next((klass for klass in kind.__mro__ if "__getattr__" in klass.__dict__), None)
    if getattr_owner is None or getattr_owner.__module__ != "torch.nn.modules.module":
        return _MISSING
    for table in ("_parameters", "_buffers", "_modules"):
        members = namespace.get(table)
        if isinstance(members, dict) and attribute in members:
            return members[attribute]
    return _MISSING


class _FrameTracer:
    """The trace function of one frame that runs watched statements."""

    __slots__ = ("recorder", "lines", "active", "started", "grad", "autocast", "described")

    def __init__(self, recorder: Recorder, lines: dict[int, _Site]) -> None:
        self.recorder = recorder
        self.lines = lines
        self.active: _Site | None = None
        self.started = 0.0
        self.described: dict[str, tuple | None] = {}

    def trace(self, frame, event, arg):
        active = self.active
        if event == "line":
            line = frame.f_lineno
            if active is not None:
                if active.line <= line <= active.end_line:
                    return self.trace
                self._finish(frame, False, _MISSING)
            site = self.lines.get(line)
            if site is not None:
                self._begin(site, frame)
        elif active is not None:
            if event == "exception":
                self._finish(frame, True, _MISSING)
            elif event == "return":
                self._finish(frame, False, arg)
        return self.trace

    def _begin(self, site: _Site, frame) -> None:
        recorder = self.recorder
        frame_locals, frame_globals = frame.f_locals, frame.f_globals
        code = frame.f_code
        # CO_OPTIMIZED: a function, whose local names are only ever locals.
        local_names = (*code.co_varnames, *code.co_cellvars) if code.co_flags & 0x1 else ()
        described = []
        for text, access in site.operands:
            try:
                value = read_value(access, frame_locals, frame_globals, local_names)
                described.append((text, None if value is _MISSING else recorder.describe(value)))
            except Exception:  # noqa: BLE001 - an odd object must not break the program being observed
                described.append((text, None))
        self.grad, self.autocast, _ = recorder.modes()
        dtypes = {facts[1][2] for _, facts in described if facts is not None and facts[1] is not None}
        with recorder.lock:
            for text, facts in described:
                site.values[text].add(facts)
            if len(dtypes) > 1:
                site.mismatches += 1
        self.described = dict(described)
        self.active = site
        self.started = time.perf_counter()

    def _finish(self, frame, raised: bool, returned: object) -> None:
        elapsed = time.perf_counter() - self.started
        site, self.active = self.active, None
        result = None
        if site.result is not None and not raised:
            try:
                if site.result_name == _RETURN_VALUE:
                    value = returned
                else:
                    value = frame.f_locals.get(site.result_name, _MISSING)
                result = None if value is _MISSING else self.recorder.describe(value)
            except Exception:  # noqa: BLE001
                result = None
        recorder = self.recorder
        rewrites = [self._rewrite_facts(rewrite, raised, result) for rewrite in site.rewrites]
        with recorder.lock:
            for rewrite, facts in zip(site.rewrites, rewrites):
                if facts is None:
                    continue
                mismatched, same = facts
                rewrite.executions += 1
                for label in mismatched:
                    _bump(rewrite.mismatches, label)
                if same is not None:
                    rewrite.compared += 1
                    rewrite.same += same
            site.executions += 1
            site.seconds += elapsed
            if raised:
                site.raised += 1
            _bump(site.grad, self.grad)
            _bump(site.autocast, self.autocast)
            if site.result is not None and not raised and (site.result_name != _RETURN_VALUE or returned is not _MISSING):
                site.result.add(result)
        if time.perf_counter() - recorder.last_flush > FLUSH_SECONDS:
            recorder.flush()

    def _rewrite_facts(self, rewrite: _Rewrite, raised: bool, result: tuple | None) -> tuple | None:
        """(labels of unequal sizes, whether the rewrite's result layout is the result's: None when
        not compared) for one execution; None when an operand was not a plain tensor."""
        operands = []
        for text in rewrite.operands:
            facts = self.described.get(text)
            if facts is None or facts[1] is None:
                return None
            operands.append(facts[1])
        try:
            mismatched = mismatched_labels(rewrite.terms, [facts[1] for facts in operands], rewrite.summed)
        except Exception:  # noqa: BLE001
            return None
        if mismatched is None:
            return None
        same = None
        strided = all(facts[6] is not None for facts in operands)
        if rewrite.replaces_value and not raised and strided and result is not None and result[1] is not None and result[1][6] is not None:
            layout = self.recorder.rewrite_layout(rewrite.equation, operands)
            if layout is not None:
                same = layout == (result[1][1], result[1][6])
        return mismatched, same


class _ExecWatch:
    """An audit hook that turns tracing on when a watched file's module code is about to run (an
    import, pytest's rewritten test modules, ``runpy``). Until then (importing torch, pytest's start)
    the program runs without a trace function at all. Audit hooks cannot be removed: once tracing is
    on, it returns at once."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.tracing = False

    def __call__(self, event: str, arguments: tuple) -> None:
        if self.tracing or event != "exec" or not arguments:
            return
        code = arguments[0]
        filename = getattr(code, "co_filename", None)
        if not isinstance(filename, str):
            return
        watched = self.recorder.files_seen.get(filename, _MISSING)
        if watched is _MISSING:
            watched = self.recorder._file_sites(filename)
        if watched is not None:
            self.tracing = True
            _trace_from_now_on(self.recorder)


def _trace_from_now_on(recorder: Recorder) -> None:
    if sys.gettrace() is None:
        sys.settrace(recorder.global_trace)
    threading.settrace(recorder.global_trace)


_recorder: Recorder | None = None


def start(table: list[dict], spool: str) -> Recorder:
    """Watch the sites of ``table`` in this process (and the threads it starts once tracing is on):
    from the start when the main script is a watched file, otherwise from when the first watched
    module's code starts to run."""
    global _recorder
    recorder = Recorder(table, spool)
    _recorder = recorder
    script = sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c", "-m") else None
    if script is not None and os.path.realpath(script) in recorder.by_file:
        _trace_from_now_on(recorder)
    else:
        sys.addaudithook(_ExecWatch(recorder))
    atexit.register(recorder.flush)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=recorder.after_fork)
    return recorder


def start_from_environment() -> Recorder | None:
    sites_path, spool = os.environ.get(SITES_VARIABLE), os.environ.get(SPOOL_VARIABLE)
    if not sites_path or not spool:
        return None
    try:
        with open(sites_path, encoding="utf-8") as handle:
            table = json.load(handle)
    except (OSError, ValueError):
        return None  # the run that wrote it is over
    return start(table, spool)
