"""Text from outside made inert for a terminal: no Rich markup, no control character acting on the screen.

Ids, paths, transcripts and a server's error text can hold ``[link=...]`` (Rich markup, which the consoles
interpret), an OSC 8 hyperlink, a clear-screen or a bidi override. Everything printed that came from input
goes through :func:`inert`: control, format and separator characters are written as their escapes, and
Rich markup is escaped, so the user sees the characters, not their effect.
"""

from __future__ import annotations

import unicodedata

from rich.markup import escape

# Controls (NUL, ESC, newline, U+0085...), format characters (bidi overrides, zero-width spaces), surrogates
# and the line and paragraph separators: the characters that act instead of showing.
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def visible(text: str, keep: str = "") -> str:
    """``text`` with every control, format or separator character (but those in ``keep``) written as its escape."""
    if not any(unicodedata.category(ch) in FORBIDDEN_CATEGORIES and ch not in keep for ch in text):
        return text
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if unicodedata.category(ch) in FORBIDDEN_CATEGORIES and ch not in keep
        else ch
        for ch in text
    )


def inert(text: str, keep: str = "") -> str:
    """``text`` safe to hand to a Rich console: characters visible (but ``keep``'s) and markup escaped."""
    return escape(visible(text, keep))
