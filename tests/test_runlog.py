"""The run log and the ``-v`` stderr log: secrets blanked on every cotgen handler, and nothing left behind.

A key can reach a log record through a server's error message (OpenAI quotes it in a 401) or an
exception's text; it must reach neither ``cotgen.log`` nor the terminal, whichever handler runs
first and whether the record comes from the ``cotgen`` logger or a child of it. Handlers and
filters a command adds must come off when it ends, or a second command in the same process (a
notebook, the test suite) keeps printing log lines it never asked for.
"""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cotgen.cli.main import main
from cotgen.core.run_log import LOG_FILE, LOGGER_NAME, SecretFilter, run_log

SECRET = "sk-SENTINEL-runlog-5Hq8Wz2Kd7"


@pytest.fixture
def cotgen_logger() -> Iterator[logging.Logger]:
    """The ``cotgen`` logger, its handlers and level put back afterwards."""
    log = logging.getLogger(LOGGER_NAME)
    handlers, level = list(log.handlers), log.level
    yield log
    log.handlers[:] = handlers
    log.setLevel(level)


def _stream_handler(buffer: io.StringIO) -> logging.Handler:
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    return handler


def test_a_secret_is_blanked_on_every_cotgen_handler_in_messages_and_exception_text(
    tmp_path: Path, cotgen_logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    first, last = io.StringIO(), io.StringIO()
    cotgen_logger.handlers.insert(0, _stream_handler(first))  # before the run log's own handler, as -v's is
    cotgen_logger.addHandler(_stream_handler(last))
    child = logging.getLogger(f"{LOGGER_NAME}.teacher")  # a child's records skip any filter on the parent logger
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME), run_log(tmp_path, secrets=[SECRET]):
        child.warning("HTTP 401: Incorrect API key provided: %s", SECRET)
        try:
            raise RuntimeError(f"the server said: bad key {SECRET}")
        except RuntimeError:
            child.exception("request failed")
    written = {"first": first.getvalue(), "last": last.getvalue(), "file": (tmp_path / LOG_FILE).read_text()}
    written["root"] = caplog.text
    for where, text in written.items():
        assert "Incorrect API key provided: ***" in text, where
        assert "RuntimeError: the server said: bad key ***" in text, where
        assert SECRET not in text, where


def test_the_run_log_takes_its_handler_and_filters_off_at_the_end(
    tmp_path: Path, cotgen_logger: logging.Logger
) -> None:
    mine = _stream_handler(io.StringIO())
    cotgen_logger.addHandler(mine)
    before = list(cotgen_logger.handlers)
    with run_log(tmp_path, secrets=[SECRET]):
        assert len(cotgen_logger.handlers) == len(before) + 1
        assert all(any(isinstance(f, SecretFilter) for f in h.filters) for h in cotgen_logger.handlers)
    assert cotgen_logger.handlers == before
    assert not any(isinstance(f, SecretFilter) for f in mine.filters)


def test_verbose_build_takes_its_stderr_handler_off_when_the_command_ends(
    cotgen_logger: logging.Logger, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = list(cotgen_logger.handlers)
    for args in (["-v", "build", "--teacher", "gpt-4o"], ["-v", "build", "--teacher", "gpt-4o"]):
        monkeypatch.setattr(sys, "argv", ["cotgen", *args])
        with pytest.raises(SystemExit) as stopped:
            main()
        assert stopped.value.code == 2
        assert cotgen_logger.handlers == before, "the -v handler must not outlive the command"
    err = capsys.readouterr().err
    assert err.count("error: --teacher 'gpt-4o'") == 2 and len(err.strip().splitlines()) == 2
