"""Turn a modelled chain into an einsum equation with readable labels, and into the call's source."""

from __future__ import annotations

import re
import string

from einlint.equation.model import ELLIPSIS
from einlint.rewrite.algebra import Chain, Label

CONTRACTED_LETTERS = "dcefg"
ATTENTION_WEIGHTS = re.compile(r"attn|attention|prob|scores")
SHARED_LETTERS = "bhgn"
POOL = "ijklmnopqrstuvwxyzabcdefgh" + string.ascii_uppercase


def equation_for(chain: Chain) -> str:
    letters = _name_labels(chain)
    assert chain.output is not None
    terms = []
    for leaf in chain.leaves:
        terms.append((ELLIPSIS if leaf.ellipsis else "") + "".join(letters[id(label.find())] for label in leaf.labels))
    output = chain.output
    result = (ELLIPSIS if output.ellipsis else "") + "".join(letters[id(label.find())] for label in output.labels)
    return f"{','.join(terms)}->{result}"


def _name_labels(chain: Chain) -> dict[int, str]:
    assert chain.output is not None
    in_output = {id(label.find()) for label in chain.output.labels}
    owners: dict[int, list[int]] = {}
    order: list[Label] = []
    for position, leaf in enumerate(chain.leaves):
        for label in leaf.labels:
            root = label.find()
            if id(root) not in owners:
                owners[id(root)] = []
                order.append(root)
            owners[id(root)].append(position)
    letters: dict[int, str] = {}
    used: set[str] = set()

    def take(root: Label, preferred: str) -> None:
        for letter in (*preferred, *POOL):
            if letter not in used:
                letters[id(root)] = letter
                used.add(letter)
                return
        raise ValueError("more than 52 labels")

    # Attention weights times values: the contracted axis is the keys' (k), the weights' own axis the
    # queries' (q) and the values' own axis the features (d), as in 'bhqk,bhkd->bhqd'.
    weights = next((i for i, leaf in enumerate(chain.leaves) if ATTENTION_WEIGHTS.search(leaf.name_hint.lower())), None)
    for root in order:
        if id(root) not in in_output:
            take(root, "k" + CONTRACTED_LETTERS if weights is not None else CONTRACTED_LETTERS)
    for root in order:
        if id(root) in in_output and len(set(owners[id(root)])) > 1:
            take(root, SHARED_LETTERS)
    for root in order:
        if id(root) not in letters and weights is not None:
            take(root, "q" if owners[id(root)][0] == weights else "d")
    for root in order:
        if id(root) not in letters:
            hint = chain.leaves[owners[id(root)][0]].name_hint
            # query_states -> q. A one-letter name (a, x, w) names an operand, not a dimension, except
            # attention's q, k, v, whose letters are the conventional labels of their sequence axes.
            meaningful = len(hint) > 1 or hint in ("q", "k", "v")
            initial = next((c for c in hint.lower() if c in string.ascii_lowercase), "") if meaningful else ""
            take(root, initial)
    return letters
