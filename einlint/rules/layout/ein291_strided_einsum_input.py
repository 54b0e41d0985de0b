from __future__ import annotations

from einlint.observe.einsum_calls import EinsumCall
from einlint.observe.observations import STRIDED, SiteObservation
from einlint.rules.base import Example, Rule, Triggers


class StridedEinsumInput(Rule):
    """A ``torch.einsum`` operand seen strided in memory (sliced, stepped, broadcast) while ``einlint observe`` recorded.

    What it flags: an operand of ``torch.einsum`` read by name (``x``, ``self.weight``) that, in an
    execution ``einlint observe`` recorded, was a non-contiguous tensor other than a reordering of a
    dense one: a slice (``h[..., :64]``), a step (``h[:, ::2]``) or a broadcast (``expand``). A
    transposed or permuted view of a contiguous tensor is left alone: einsum reorders its operands
    itself. This rule never fires from the code alone: only where the observations file holds the
    call's statement, so it stays silent until ``einlint observe`` has run the code.

    Why it matters: einsum runs as a batched matrix product after permuting and reshaping each
    operand, and a reshape that merges dimensions of a strided tensor copies it, on every call,
    invisibly in the code. The message says in how many executions it was seen, with the operand's
    shape and strides; the statement's measured time is shown beside it.

    Fix: none applied. Make the operand contiguous where it is produced (once, outside the loop that
    calls einsum), or slice after the contraction instead of before; a copy is not made for every
    layout, so measure (``einlint --verify``, a profiler) before and after.

    Fix safety: report-only.
    """

    code = "EIN291"
    name = "strided-einsum-input"
    triggers = Triggers(names=frozenset({"einsum"}))
    observed_only = True
    invalid = (Example("def f(h, w):\n    x = h[..., :64]\n    return torch.einsum('bij,jk->bik', x, w)"),)
    valid = ("def f(x, w):\n    return torch.einsum('bij,jk->bik', x, w)",)

    @classmethod
    def observed_findings(cls, call: EinsumCall, site: SiteObservation) -> tuple[str, ...]:
        messages = []
        for operand in call.operands:
            facts = site.operands.get(operand.text)
            strided = facts.counts.get("non_contiguous", {}).get(STRIDED, 0) if facts is not None else 0
            if not strided:
                continue
            times = f"{strided} of {site.executions} execution{'s' if site.executions != 1 else ''}"
            layout = ""
            if len(facts.shapes) == 1 and len(facts.strides) == 1:
                layout = f" (shape {_shown(facts.shapes[0])}, strides {_shown(facts.strides[0])})"
            messages.append(f"`{operand.text}` reached torch.einsum strided in memory in {times}{layout}; einsum may copy it on every call")
        return tuple(messages)


def _shown(sizes: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(size) for size in sizes) + ("," if len(sizes) == 1 else "") + ")"
