"""Fixtures every test gets."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _restore_cotgen_logger() -> Iterator[None]:
    """The CLI's callback sets the ``cotgen`` logger's level for the process: put it back; no handler may remain."""
    log = logging.getLogger("cotgen")
    handlers, level = list(log.handlers), log.level
    yield
    log.setLevel(level)
    assert log.handlers == handlers, "a command left a handler on the cotgen logger"
