"""The soundness corpus: one module per family, each exporting ``CASES``."""

from __future__ import annotations

import dataclasses
import importlib

from ..harness import Case

FAMILY_MODULES = (
    "folded_temporaries",
    "stale_facts",
    "names",
    "dtype_context",
    "annotations",
    "result_layout",
    "snapshots",
    "strictness",
    "hoisting",
    "fixpoints",
    "side_effects",
    "controls",
)


def all_cases() -> list[Case]:
    cases: list[Case] = []
    for name in FAMILY_MODULES:
        module = importlib.import_module(f".{name}", __package__)
        # XFAIL: the cases that fail today, by name, with one line on why; fixing one turns it red.
        known = getattr(module, "XFAIL", {})
        unknown = set(known) - {c.name for c in module.CASES}
        if unknown:
            raise RuntimeError(f"{name}: XFAIL names no case: {sorted(unknown)}")
        cases.extend(dataclasses.replace(c, xfail=known[c.name]) if c.name in known else c for c in module.CASES)
    names = [c.name for c in cases]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise RuntimeError(f"case names used twice: {duplicates}")
    return cases
