from __future__ import annotations

import libcst as cst

from einlint.engine.candidates import Candidate
from einlint.engine.context import FileAnalysis

from einlint.rules.base import Example, Rule, Triggers
from einlint.rules.layout._view_conflicts import impossible_view_kinds, impossible_view


class ViewOfEinsumResult(Rule):
    """A ``.view(...)`` of a two-operand einsum result that must merge dimensions stored apart.

    torch stores the result in another order than the output term's, and the view raises at run time.

    What it flags: ``torch.einsum('bhqk,bhkd->bqhd', p, v).view(b * q, -1)`` and the same through a
    local name.

    Why it matters: einsum returns a permuted view of the result it computes, not a contiguous tensor.
    With two operands and a summed label, torch stores the labels of both operands first, then those
    of one operand only, then those of the other (which of the two comes first depends on the
    equation), and returns them in the output's order. For ``bhqk,bhkd->bqhd`` that is ``bhqd`` or
    ``bhdq`` in memory, so in neither can ``.view`` merge ``b`` with ``q`` or ``q`` with ``h``. Code like this
    passes with one head or one query and raises "view size is not compatible with input tensor's size
    and stride" otherwise. einlint reports only views that are impossible under both stored orders.

    Fix: ``.reshape(...)``, or write the einsum output in its stored order and permute the small
    result, or ``.contiguous()`` first. einlint does not pick one.

    Fix safety: report-only. The layout is the one torch 2.x produces for two-operand einsum (checked
    against torch on thousands of random equations); a size-1 dimension at run time makes the view
    legal.
    """

    code = "EIN204"
    name = "view-of-einsum-result"
    triggers = Triggers(names=frozenset({"view"}))
    invalid = (
        Example("y = torch.einsum('bhqk,bhkd->bqhd', p, v).view(b * q, -1)"),
        Example("def f(p, v, b):\n    out = torch.einsum('bhqk,bhkd->bqhd', p, v)\n    return out.view(b, -1)"),
    )
    valid = (
        "y = torch.einsum('bhqk,bhkd->bhqd', p, v).view(b, -1, d)",
        "y = torch.einsum('bhqk,bhkd->bqhd', p, v).reshape(b, q, -1)",
        "y = torch.einsum('bhqk,bhkd->bqhd', p, v).view(b, q, h, d)",
        "y = torch.einsum('bhqk,bhkd->bqhd', p, v).view(b, q, -1)",  # legal if torch stores it as bhdq
    )

    @classmethod
    def needs_unit(cls, candidate: Candidate, analysis: FileAnalysis) -> bool:
        return "einsum" in impossible_view_kinds(candidate, analysis)

    def visit_Call(self, node: cst.Call) -> None:
        found = impossible_view(node, self.context)
        if found is None or not found.layout.einsum_output:
            return
        layout = found.layout
        outer, inner = found.conflict.pairs[0]
        labels = "".join(size[0] if size else "?" for size in layout.sizes)
        if found.conflict.counted:
            what = f"`.view({found.arguments})` must merge neighbouring dimensions, and none are adjacent in memory"
        else:
            what = f"`.view({found.arguments})` must merge '{labels[outer]}' and '{labels[inner]}', which are not neighbours in memory"
        self.report(
            node,
            f"`{layout.cause}` returns '{labels}' as a permuted view of how it stores the result; "
            f"{what}: it raises at run time (unless a dimension has size 1); use `.reshape(...)`",
        )
