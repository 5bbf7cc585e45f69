"""Fixtures every test gets, the console-script runner the CLI tests share, and the measured demo feature cache."""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cotgen.cli.main import main


@pytest.fixture(autouse=True)
def _restore_cotgen_logger() -> Iterator[None]:
    """The CLI's callback sets the ``cotgen`` logger's level for the process: put it back; no handler may remain."""
    log = logging.getLogger("cotgen")
    handlers, level = list(log.handlers), log.level
    yield
    log.setLevel(level)
    assert log.handlers == handlers, "a command left a handler on the cotgen logger"


@dataclass(frozen=True)
class Shown:
    """What the user saw: exit status, stdout, stderr."""

    code: int
    out: str
    err: str

    def one_error_line(self) -> str:
        """The single ``error: ...`` line on stderr (fails unless that is all there is)."""
        assert self.code == 2, (self.code, self.out, self.err)
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, self.err
        assert lines[0].startswith("error: "), self.err
        assert "Traceback" not in self.err + self.out
        return lines[0]


@pytest.fixture
def cotgen(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Run ``cotgen ARGS...`` through the console script's ``main``; returns what was shown."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("COLUMNS", "200")
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "HF_TOKEN"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str) -> Shown:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["cotgen", *args])
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        else:
            code = 0
        captured = capsys.readouterr()
        return Shown(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="module")
def feature_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One feature cache for the module, so each clip is measured once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def measured_features(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo clips measured once per session: a template build of the whole demo fills this feature cache."""
    from cotgen.build import BuildConfig, run_build

    folder = tmp_path_factory.mktemp("measured-features")
    run_build(BuildConfig(out=tmp_path_factory.mktemp("warm"), cache=folder, progress=False))
    return folder


@pytest.fixture
def cache(tmp_path: Path, measured_features: Path) -> Path:
    """A per-test cache: the measured demo features and an empty response cache, so request counts start at zero."""
    folder = tmp_path / "cache"
    shutil.copytree(measured_features, folder, ignore=shutil.ignore_patterns("responses.sqlite*"))
    return folder


@pytest.fixture(autouse=True)
def _no_openai_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test talks to a server the environment names, or sends the key it holds (tests set their own)."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
