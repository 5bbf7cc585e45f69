"""User-facing errors.

Anything raised as :class:`CotgenError` is a problem with the user's input or environment that
the CLI prints as one line (no traceback); its message must already say which file, which line
and what was expected, and must never contain a secret.
"""


class CotgenError(Exception):
    """An error the user can fix; the CLI prints its message on one line and exits with status 2."""


class Interrupted(CotgenError):
    """Ctrl-C during a command that resumes: the message says what was done, what is left and how to resume.

    A :class:`CotgenError` rather than a :class:`KeyboardInterrupt` so that it reaches the CLI with its message
    (the CLI layer turns a bare KeyboardInterrupt into exit status 130 and nothing else); the CLI prints it as it
    is and exits with 130, the status of a process stopped by Ctrl-C.
    """
