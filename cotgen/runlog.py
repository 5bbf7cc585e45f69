"""``cotgen.log`` in the run folder: what a build did, for the person who reads it afterwards.

The ``cotgen`` logger writes to the run folder's log file for the duration of a run (``-v`` sets
it to DEBUG for per-item detail). Every line passes a filter that blanks out the secrets it was
given (the API key), so a key quoted in a server error can never reach the file or the terminal.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

LOG_FILE = "cotgen.log"
LOGGER_NAME = "cotgen"


class SecretFilter(logging.Filter):
    """Replaces each secret in a log record's message with ``***``."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            for secret in self.secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


@contextmanager
def run_log(run_dir: Path, secrets: Sequence[str] = ()) -> Iterator[logging.Logger]:
    """Append the ``cotgen`` logger's records to ``run_dir/cotgen.log`` while the block runs.

    When nobody configured the logger (library use without the CLI), it logs at INFO.
    """
    logger = logging.getLogger(LOGGER_NAME)
    previous = logger.level
    if previous == logging.NOTSET:
        logger.setLevel(logging.INFO)
    run_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(run_dir / LOG_FILE, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(SecretFilter(secrets))
    # First in line: the filter rewrites the record itself, so handlers after it (stderr with -v, the
    # root logger's) see the blanked message too.
    logger.handlers.insert(0, handler)
    try:
        yield logger
    finally:
        logger.removeHandler(handler)
        handler.close()
        logger.setLevel(previous)
