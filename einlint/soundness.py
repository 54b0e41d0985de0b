"""The families of programs in which a rewrite could change what the code computes (its values, dtype,
shape, gradients, aliasing, side effects, or whether it raises). Each rule names, in ``Rule.soundness``,
the families that concern its fix and how the fix handles each one; ``einlint --explain CODE`` prints
them after the rule's doc string."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from enum import Enum


class SoundnessFamily(Enum):
    """One family: ``key`` is how ``--explain`` names it, ``title`` says what can go wrong."""

    FOLDED_TEMPORARIES = ("folded-temporaries", "a folded temporary moves a view past code that changes its base")
    STALE_FACTS = ("stale-facts", "rank and shape facts that stop being true")
    NAMES = ("names", "names that are not what the import table says")
    DTYPE_CONTEXT = ("dtype-context", "a dtype set at run time: torch.autocast, torch.set_default_dtype")
    ANNOTATIONS = ("annotations", "an annotation is not proof of a dense tensor")
    RESULT_LAYOUT = ("result-layout", "the result's strides, contiguity and aliasing")
    SNAPSHOTS = ("snapshots", "a dropped .contiguous()/.clone() was a snapshot")
    STRICTNESS = ("strictness", "a fix never turns a raise into a value: size-1 broadcasting, ranks")
    HOISTING = ("hoisting", "code moved before a loop must see what the loop body saw")
    FIXPOINTS = ("fixpoints", "a second --fix changes nothing")

    def __init__(self, key: str, title: str) -> None:
        self.key = key
        self.title = title


def soundness_section(handling: Mapping[SoundnessFamily, str], width: int = 100) -> str:
    """The "Soundness" section ``--explain`` prints: each family that concerns a fix, in the order of
    the list above, with how the fix handles it; a rule without a fix says that it offers none."""
    if not handling:
        return "Soundness: no fix, so nothing to keep sound (the rule only reports)."
    lines = ["Soundness (the families of programs where a fix could change what the code computes):"]
    for family in SoundnessFamily:
        if family in handling:
            entry = f"- {family.key} ({family.title}): {handling[family]}"
            lines.extend(textwrap.wrap(entry, width=width, subsequent_indent="  ", break_on_hyphens=False))
    return "\n".join(lines)
