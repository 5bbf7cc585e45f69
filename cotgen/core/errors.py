"""User-facing errors.

Anything raised as :class:`CotgenError` is a problem with the user's input or environment that
the CLI prints as one line (no traceback); its message must already say which file, which line
and what was expected, and must never contain a secret.
"""


class CotgenError(Exception):
    """An error the user can fix; the CLI prints its message on one line and exits with status 2."""
