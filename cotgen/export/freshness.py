"""Whether the files derived from a run's traces still match them: stale ``dpo.jsonl``, ``grpo.jsonl`` and exports.

``cotgen pairs`` and ``cotgen grpo`` record, in their ``run.json`` section, the fingerprint of the
``traces.jsonl`` they read (:func:`cotgen.build.state.traces_fingerprint`), and an export records it
in its ``export.json``. A rebuild that redoes or adds traces changes the fingerprint, and every
reader of a derived file (the card, ``export``, ``publish``) names a stale one with the command that
refreshes it; ``export`` and ``publish`` refuse one unless told ``--allow-stale``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cotgen.build.state import traces_fingerprint
from cotgen.core.durable_files import read_run_json
from cotgen.core.errors import CotgenError
from cotgen.export.record_readers import DPO, GRPO

logger = logging.getLogger("cotgen.export")
EXPORT_INFO = "export.json"

# Derived file -> (the run.json section its command writes, that command, the record kind of an export).
DERIVED: dict[str, tuple[str, str, str]] = {
    DPO: ("pairs", "cotgen pairs", "dpo"),
    GRPO: ("grpo", "cotgen grpo", "grpo"),
}


@dataclass(frozen=True)
class StaleFile:
    """A derived file made from other traces than the run's current ones, and how to refresh it."""

    path: Path
    refresh: str  # the command, with the run folder

    @property
    def kind(self) -> str:
        return DERIVED[self.path.name][2] if self.path.name in DERIVED else "export"

    def describe(self) -> str:
        return f"`{self.path.name}` was made from older traces than the run's; `{self.refresh}` refreshes it"


def stale_files(run_dir: Path, kinds: Iterable[str] | None = None) -> list[StaleFile]:
    """The derived files of ``run_dir`` on disk whose recorded traces fingerprint is not the current one.

    A file whose section is missing (written before fingerprints existed, or by a command whose
    section a rebuild lost) cannot be vouched for and counts as stale too. ``kinds`` limits the check
    to some record kinds (``dpo``, ``grpo``).
    """
    info = read_run_json(run_dir)
    current = traces_fingerprint(run_dir)
    wanted = set(kinds) if kinds is not None else None
    stale = []
    for name, (section, command, kind) in DERIVED.items():
        path = run_dir / name
        if not path.exists() or (wanted is not None and kind not in wanted):
            continue
        recorded = info.get(section)
        if not isinstance(recorded, dict) or recorded.get("traces_fingerprint") != current:
            stale.append(StaleFile(path, f"{command} --in {run_dir}"))
    return stale


def stale_export(export_info: dict[str, Any], export_dir: Path, run_dir: Path) -> list[StaleFile]:
    """An export made from other traces than the run's current ones, or made with stale inputs."""
    refresh = f"cotgen export --in {run_dir} --format {export_info.get('format', '...')} --out {export_dir}"
    if export_info.get("traces_fingerprint") != traces_fingerprint(run_dir) or export_info.get("stale_inputs"):
        return [StaleFile(export_dir, refresh)]
    return []


def read_export_info(export_dir: Path) -> dict[str, Any]:
    """An export folder's ``export.json`` (what :func:`cotgen.export.writer.export_run` wrote)."""
    return json.loads((export_dir / EXPORT_INFO).read_text(encoding="utf-8"))


def refuse_stale(stale: list[StaleFile], allow_stale: bool, action: str) -> None:
    """Stop ``action`` with one line per stale file unless ``allow_stale``; with it, log a warning for each."""
    if not stale:
        return
    if not allow_stale:
        lines = "; ".join(f.describe() for f in stale)
        raise CotgenError(f"{action}: {lines}; or pass --allow-stale to {action} it anyway")
    for f in stale:
        logger.warning("%s (--allow-stale)", f.describe())
