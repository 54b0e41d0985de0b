"""Names for the code a churn fix adds (a dict of equations, a reused contraction expression)."""

from __future__ import annotations

import re


def fresh_name(base: str, text: str) -> str:
    """``base``, else ``base_2``, ``base_3``...: the first name the file's text never mentions, so the
    added code can neither shadow nor be shadowed by anything the file already has."""
    name, counter = base, 1
    while re.search(rf"\b{re.escape(name)}\b", text):
        counter += 1
        name = f"{base}_{counter}"
    return name
