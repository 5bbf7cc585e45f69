"""``cotgen.log`` in the run folder: what a build did, for the person who reads it afterwards.

The ``cotgen`` logger writes to the run folder's log file for the duration of a run (``-v`` sets
it to DEBUG for per-item detail, and the CLI shows the same records on stderr). While a run log is
open, its secret filter sits on *every* handler of the ``cotgen`` logger, not only on the file's:
a filter on the logger itself would miss the records of child loggers (``cotgen.build.run``,
``cotgen.teacher``), which reach the handlers without passing it, and a filter on one handler
protects the others only if that handler happens to run first. So a key quoted in a server error
can reach neither the file nor the terminal, whatever order the handlers were added in.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from cotgen.core.redact import redact

LOG_FILE = "cotgen.log"
LOGGER_NAME = "cotgen"


class SecretFilter(logging.Filter):
    """Redacts a log record's message and exception text (:func:`cotgen.core.redact.redact`): URLs, known secrets.

    It rewrites the record itself, so handlers outside cotgen's (the root logger's, a user's own)
    that see the record afterwards get the blanked text too.
    """

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


@contextmanager
def run_log(run_dir: Path, secrets: Sequence[str] = ()) -> Iterator[logging.Logger]:
    """Append the ``cotgen`` logger's records to ``run_dir/cotgen.log`` while the block runs, secrets blanked.

    The secret filter goes on every handler the logger has (the file's, and the CLI's stderr handler
    with ``-v``) and comes off them at the end. When nobody configured the logger (library use
    without the CLI), it logs at INFO.
    """
    logger = logging.getLogger(LOGGER_NAME)
    previous = logger.level
    if previous == logging.NOTSET:
        logger.setLevel(logging.INFO)
    run_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(run_dir / LOG_FILE, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    redact = SecretFilter(secrets)
    filtered = list(logger.handlers)
    for each in filtered:
        each.addFilter(redact)
    try:
        yield logger
    finally:
        for each in filtered:
            each.removeFilter(redact)
        logger.removeHandler(handler)
        handler.close()
        logger.setLevel(previous)
