"""The verifier's one error for a fix it cannot check."""

from __future__ import annotations


class NotVerifiable(Exception):
    """The fix cannot be checked by running it; the message says why, in one line."""
