"""The recorder reads operands without running any code of the program: a property, ``__getattr__``
or a tensor subclass's ``__torch_function__`` never runs because of it, and a torch function mode the
program entered never sees its metadata reads."""

from __future__ import annotations

import types

import torch
from torch.overrides import TorchFunctionMode

from einlint.observe import recorder
from einlint.observe.recorder import _MISSING, Recorder, read_value


class Counted:
    __slots__ = ("slot", "__dict__")
    calls = 0
    shared = 5

    @property
    def costly(self):
        Counted.calls += 1
        return torch.zeros(2)

    def __getattr__(self, name):
        Counted.calls += 1
        return torch.zeros(3)


def test_reads_names_instance_attributes_and_module_members_only() -> None:
    thing = Counted()
    thing.plain = torch.ones(2)
    layer = torch.nn.Linear(3, 4)
    frame_locals = {"thing": thing, "layer": layer, "shadow": 1}
    frame_globals = {"shadow": 2, "torch": torch, "__builtins__": {"len": len}}
    assert read_value(("thing", "plain"), frame_locals, frame_globals) is thing.plain
    assert read_value(("thing", "shared"), frame_locals, frame_globals) == 5
    assert read_value(("layer", "weight"), frame_locals, frame_globals) is layer.weight
    assert read_value(("shadow",), frame_locals, frame_globals) == 1
    assert read_value(("len",), frame_locals, frame_globals) is len
    # A function's unbound local is not the global of the same name.
    assert read_value(("shadow",), {}, frame_globals, ("shadow",)) is _MISSING
    for access in (("thing", "costly"), ("thing", "missing"), ("thing", "slot"), ("nowhere",), ("layer", "forward")):
        assert read_value(access, frame_locals, frame_globals) is _MISSING, access
    assert Counted.calls == 0


def test_module_with_its_own_getattr_is_not_read() -> None:
    class Lazy(torch.nn.Module):
        armed = False

        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.ones(2))

        def __getattr__(self, name):
            if Lazy.armed:
                raise AssertionError("ran the program's __getattr__")
            return super().__getattr__(name)

    module = Lazy()
    Lazy.armed = True
    assert read_value(("m", "weight"), {"m": module}, {}) is _MISSING


class Logged(torch.Tensor):
    seen: list = []

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        cls.seen.append(func)
        return super().__torch_function__(func, types, args, kwargs or {})


class Watching(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.calls += 1
        return func(*args, **(kwargs or {}))


def test_describe_reads_metadata_and_runs_no_torch_function() -> None:
    watcher = Recorder([], "/nonexistent")
    plain = torch.randn(2, 3).t()
    parameter = torch.nn.Parameter(torch.randn(4))
    subclass = torch.randn(2).as_subclass(Logged)
    Logged.seen.clear()
    with Watching() as mode:
        described = [watcher.describe(value) for value in (plain, parameter, subclass, [1], None)]
    assert mode.calls == 0 and Logged.seen == []
    assert described[0] == ("torch.Tensor", (2, (3, 2), "torch.float32", "cpu", "torch.strided", False, (1, 3), False))
    assert described[1] == ("torch.nn.parameter.Parameter", (1, (4,), "torch.float32", "cpu", "torch.strided", True, (1,), True))
    assert described[2] == (f"{__name__}.Logged", None)
    assert described[3:] == [("builtins.list", None), ("builtins.NoneType", None)]
    sparse = watcher.describe(torch.eye(3).to_sparse())
    assert sparse[1][4] == "torch.sparse_coo" and sparse[1][5] is None and sparse[1][6] is None


def test_modes_record_grad_and_autocast() -> None:
    watcher = Recorder([], "/nonexistent")
    assert watcher.modes()[:2] == ("true", "off")
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert watcher.modes()[:2] == ("false", "cpu:torch.bfloat16")


def test_module_types_are_namespaces() -> None:
    module = types.ModuleType("fake")
    module.weight = torch.ones(1)
    assert read_value(("fake", "weight"), {}, {"fake": module}) is module.weight
    assert recorder.SITES_VARIABLE == "EINLINT_OBSERVE_SITES"


def test_mismatched_labels_align_an_ellipsis_from_both_ends() -> None:
    equation = "b...ij, ...jk -> b...ik"
    terms, summed = recorder._terms(equation), recorder.contracted(equation)
    assert terms == [["b", "...", "i", "j"], ["...", "j", "k"]]
    assert summed == {"j"}
    assert recorder.mismatched_labels(terms, [(2, 7, 3, 4), (7, 4, 5)], summed) == set()
    # einsum broadcasts a size-1 summed j where matmul raises: a mismatch.
    assert recorder.mismatched_labels(terms, [(2, 7, 3, 1), (7, 4, 5)], summed) == {"j"}
    # A kept label broadcasts alike in both (matmul's batch dimensions): no mismatch.
    batched = recorder._terms("bij,bjk->bik")
    assert recorder.mismatched_labels(batched, [(1, 3, 4), (2, 4, 5)], recorder.contracted("bij,bjk->bik")) == set()
    assert recorder.mismatched_labels([["i", "i"]], [(3, 4)], recorder.contracted("ii")) == {"i"}
    assert recorder.mismatched_labels(terms, [(2, 3), (7, 4, 5)], summed) is None  # a rank that does not fit


def test_rewrite_layout_is_einsums_own_on_meta_tensors() -> None:
    watcher = Recorder([], "/nonexistent")
    q, k = torch.randn(2, 5, 3, 4), torch.randn(2, 3, 4, 6)
    original = q.permute(0, 2, 1, 3) @ k
    rewritten = torch.einsum("bqhd,bhdk->bhqk", q, k)
    operands = [watcher.describe(q)[1], watcher.describe(k)[1]]
    layout = watcher.rewrite_layout("bqhd,bhdk->bhqk", operands)
    assert layout == (tuple(rewritten.shape), rewritten.stride())
    assert layout == (tuple(original.shape), original.stride())
    transposed = torch.randn(3, 2).t()
    assert watcher.rewrite_layout("ij->ji", [watcher.describe(transposed)[1]]) == ((3, 2), (2, 1)) == (tuple(transposed.t().shape), transposed.t().stride())
    assert watcher.rewrite_layout("ij,jk->ik", [watcher.describe(torch.randn(2, 3))[1], watcher.describe(torch.randn(4, 5))[1]]) is None
