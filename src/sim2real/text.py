"""Short lists in messages: the first few names and how many more (a base module every layer may
import; it imports nothing of sim2real).

- :func:`few`: ``"a, b, c, ... 5 more"`` (a list shown in part);
- :func:`and_more`: ``" (and 5 more)"`` after a message that names one item of several in full.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["and_more", "few"]


def few(items: Sequence[object], n: int = 4) -> str:
    """The first ``n`` items joined by ", ", then ", ... k more" for the ``k`` left out ("" for none).

    Args:
        items: What to list (each shown with ``str``), in the order to show them.
        n: How many to show (at least 1).
    """
    shown = ", ".join(str(x) for x in items[:n])
    return shown + (f", ... {len(items) - n} more" if len(items) > n else "")


def and_more(k: int) -> str:
    """``" (and k more)"`` after a message naming one of ``k + 1`` items ("" when ``k`` is 0)."""
    return f" (and {k} more)" if k > 0 else ""
