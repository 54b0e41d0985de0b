"""The list of torch.Tensor's attributes that einlint carries (einlint/evidence/tensor_attributes.py,
written by tools/generate_tensor_attributes.py) matches the installed torch."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from conftest import REPOSITORY_ROOT
from einlint.evidence.tensor_attributes import TENSOR_ATTRIBUTES, TORCH_VERSION

torch = pytest.importorskip("torch")


def _generator():
    path = REPOSITORY_ROOT / "tools" / "generate_tensor_attributes.py"
    spec = importlib.util.spec_from_file_location("generate_tensor_attributes", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_list_is_dir_of_the_installed_torch_tensor() -> None:
    installed = frozenset(dir(torch.Tensor))
    assert TENSOR_ATTRIBUTES == installed, (
        f"regenerate with tools/generate_tensor_attributes.py (torch {torch.__version__}, list from {TORCH_VERSION}): "
        f"missing {sorted(installed - TENSOR_ATTRIBUTES)[:10]}, extra {sorted(TENSOR_ATTRIBUTES - installed)[:10]}"
    )


def test_the_module_is_what_the_generator_writes() -> None:
    generator = _generator()
    assert generator.MODULE.read_text(encoding="utf-8") == generator.current()


def test_methods_of_structured_matrices_are_not_tensor_attributes() -> None:
    # The evidence the list serves: gpytorch-style methods are absent, everyday tensor ones present.
    assert {"add_jitter", "root_decomposition", "evaluate", "evaluate_kernel"}.isdisjoint(TENSOR_ATTRIBUTES)
    assert {"permute", "transpose", "mT", "shape", "dtype", "to_dense", "requires_grad", "grad"} <= TENSOR_ATTRIBUTES
