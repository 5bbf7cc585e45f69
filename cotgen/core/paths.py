"""Where runs and caches live by default (see the README: runs under outputs/, one shared cache)."""

from __future__ import annotations

import os
from pathlib import Path

OUTPUTS_ROOT = Path("outputs")
DEFAULT_RUN = OUTPUTS_ROOT / "demo"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROMPTS_DIR = PROJECT_ROOT / "prompts"
CORPORA_DIR = PROJECT_ROOT / "corpora"


def run_dir(corpus: str, out: Path | None = None) -> Path:
    """The output folder of a run: ``--out`` when given, else ``outputs/<corpus>/``."""
    return out if out is not None else OUTPUTS_ROOT / corpus


def cache_dir(override: Path | None = None) -> Path:
    """The cache shared by every run: ``--cache`` when given, else ``${XDG_CACHE_HOME:-~/.cache}/cotgen``."""
    if override is not None:
        return override
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cotgen"
