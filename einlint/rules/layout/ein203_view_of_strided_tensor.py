from __future__ import annotations

import libcst as cst

from einlint.engine.candidates import Candidate
from einlint.engine.context import FileAnalysis

from einlint.rules.base import Example, Rule, Triggers
from einlint.rules.layout._view_conflicts import impossible_view_kinds, describe_dim, impossible_view


class ViewOfStridedTensor(Rule):
    """A ``.view(...)`` that must merge dimensions a reordering or ``expand`` left apart in memory.

    It raises at run time.

    What it flags: ``x.transpose(1, 2).view(b, n, -1)`` where ``x`` is a contiguous ``(b, h, n, d)``
    tensor (its rank known from ``x.view(b, n, h, d)``, a shape unpack, ``permute``'s arguments, ...), a
    ``.view`` that merges an ``expand``-ed dimension with another one, and the same through local
    names (``y = x.permute(0, 2, 1, 3)`` then ``y.view(b * n, -1)``). Where the code does not show
    the rank, a transpose of two dims counted from the same end (``x.transpose(1, 2).view(b, -1)``,
    ``x.transpose(1, 2).view(x.size(0), -1)``) is flagged only when the view raises for every rank
    the transpose allows: einlint checks the fewest dimensions it allows and one more standing for
    all the others, since a run of row-major dimensions behaves under ``.view`` as one (so
    ``x.transpose(1, 2).view(b, n, -1)``, fine for a 3-D ``x``, is not flagged).

    Why it matters: ``.view`` never copies; it needs each new dimension to cover old dimensions stored
    one right inside the other. After ``transpose(1, 2)`` of ``(b, h, n, d)`` no two neighbours are
    (``n`` and ``h`` are swapped in memory, ``h`` and ``d`` are ``n`` apart), so any ``.view`` that lowers
    the rank raises "view size is not compatible with input tensor's size and stride". It works only
    when one of the merged sizes is 1, which is how such code passes a test with batch 1 or one head
    and fails later. When the written sizes show which neighbours merge (``view(b, n, h * d)``), only
    those are checked; otherwise einlint counts: r new dimensions over n old ones need n - r
    mergeable neighbours.

    Fix: ``.reshape(...)`` (copies only when it must), or ``.contiguous().view(...)``, or ``.view``
    before the reordering when that is what was meant. einlint does not pick one.

    Fix safety: report-only. The tensor the expression starts from (a parameter, a module's output) is
    taken to be contiguous, and the message names it; a dimension that is 1 at run time also makes the
    view legal.
    """

    code = "EIN203"
    name = "view-of-strided-tensor"
    triggers = Triggers(names=frozenset({"view"}))
    invalid = (
        Example("def f(x, b, n, h, d):\n    return x.view(b, n, h, d).transpose(1, 2).view(b, h, -1)"),
        Example("def f(x):\n    b, h, n, d = x.shape\n    y = x.transpose(1, 2)\n    return y.view(b, n, h * d)"),
        Example("def f(x):\n    b, kv, n, d = x.shape\n    return x[:, :, None].expand(b, kv, 4, n, d).view(b, kv * 4, n, d)"),
        Example("def f(x):\n    return x.transpose(1, 2).view(x.size(0), -1)"),
    )
    valid = (
        "def f(x, b, n, h, d):\n    return x.view(b, n, h, d).transpose(1, 2).reshape(b, h, -1)",
        "def f(x):\n    b, c, h, w = x.shape\n    return x.permute(0, 2, 3, 1).view(b, h * w, c)",
        "def f(x, b, n, h, d):\n    return x.view(b, n, h, d).transpose(1, 2).contiguous().view(b, h, -1)",
        "def f(x, b, n):\n    return x.transpose(1, 2).view(b, n, -1)",
    )

    @classmethod
    def needs_unit(cls, candidate: Candidate, analysis: FileAnalysis) -> bool:
        return "strided" in impossible_view_kinds(candidate, analysis)

    def visit_Call(self, node: cst.Call) -> None:
        found = impossible_view(node, self.context)
        if found is None or found.layout.einsum_output:
            return
        layout = found.layout
        outer, inner = found.conflict.pairs[0]
        caveat = "unless one of them has size 1"
        if layout.assumed_contiguous:
            caveat += f" or `{layout.assumed_contiguous}` is not contiguous"
        if found.conflict.counted:
            what = (
                f"`.view({found.arguments})` lowers the rank of a tensor laid out by `{layout.cause}`, "
                "in which no neighbouring dimensions it would have to merge are adjacent in memory"
            )
        else:
            what = (
                f"`.view({found.arguments})` must merge dims {describe_dim(layout, outer)} and "
                f"{describe_dim(layout, inner)} of a tensor laid out by `{layout.cause}`, which are not "
                "neighbours in memory"
            )
        if layout.rank_unknown:
            what += f", whatever the rank of `{layout.assumed_contiguous}`"
        self.report(node, f"{what}: it raises at run time ({caveat}); use `.reshape(...)`")
