"""The verifier's access to torch: imported on first use only, with a one-line error when it is missing,
and the device the checks run on."""

from __future__ import annotations

import contextlib
import platform
from collections.abc import Iterator
from types import ModuleType

INSTALL_HINT = "install einlint[verify]"


class VerifierUnavailable(Exception):
    """The verifier cannot run here; the message is one line for the user."""


def require_torch() -> ModuleType:
    try:
        import torch
    except ImportError:
        raise VerifierUnavailable(f"the verifier needs torch, which is not installed ({INSTALL_HINT})") from None
    return torch


def check_torch_installed() -> None:
    """Raise VerifierUnavailable unless torch can be imported, without importing it: the process that
    lints and reports does not need torch, only the worker that verifies (worker.py) does."""
    import importlib.util

    try:
        found = importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise VerifierUnavailable(f"the verifier needs torch, which is not installed ({INSTALL_HINT})")


def resolve_device(requested: str | None) -> str:
    """``cuda`` when one is available and nothing was requested; a requested ``cuda`` must exist."""
    torch = require_torch()
    if requested is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise VerifierUnavailable("--device cuda: torch sees no CUDA device here (use --device cpu)")
    if requested not in ("cpu", "cuda"):
        raise VerifierUnavailable(f"unknown device {requested!r} (cpu or cuda)")
    return requested


def device_description(device: str) -> str:
    """What ran the checks, for reports and for the cache key: timings from another machine differ."""
    torch = require_torch()
    if device == "cuda":
        return f"cuda ({torch.cuda.get_device_name()})"
    processor = platform.processor() or platform.machine() or "unknown CPU"
    return f"cpu ({processor}, {torch.get_num_threads()} threads)"


def default_dtypes(device: str) -> tuple[str, ...]:
    """float32 and float64 everywhere; the half-precision types only where they have fast kernels."""
    if device == "cuda":
        return ("float32", "float64", "bfloat16", "float16")
    return ("float32", "float64")


@contextlib.contextmanager
def exact_float32() -> Iterator[None]:
    """TF32 off (full float32 matmuls) for the equivalence check; TF32 rounding would hide nothing but
    would make float32 errors of 1e-3 look like a wrong rewrite."""
    torch = require_torch()
    before = torch.get_float32_matmul_precision()
    cudnn_before = torch.backends.cudnn.allow_tf32
    torch.set_float32_matmul_precision("highest")
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before)
        torch.backends.cudnn.allow_tf32 = cudnn_before


def tf32_state() -> str:
    """The float32 matmul precision timings were taken under ("highest" means TF32 off)."""
    return require_torch().get_float32_matmul_precision()
