"""``RUN/batches/``: what was sent as a batch, written down before it is sent, so a kill never pays twice.

One JSON file per input file (``<marker>.json``, rewritten atomically at every step) beside the
input file itself and, once the batch ends, local copies of its output and error files. An entry
moves through these states:

``written``
    the input file and the entry exist; nothing is known to be on the server. A batch may exist
    all the same (a kill between ``batches.create`` and recording its id): the entry's ``marker``
    is in that batch's ``metadata``, and a rerun finds it by listing batches before it submits.
``submitted``
    the batch id is recorded; a rerun polls it instead of submitting again.
``finished``
    the batch ended (completed, expired, cancelled or failed) and its files are copied here; the
    caller has not yet taken the rows over, so a rerun reads them again from the copies.
``collected``
    the caller has taken every row over (answers stored, failures recorded): done.
``offline``
    written by ``--batch-file-only`` for ``vllm run-batch``; never submitted by cotgen, matched
    against a results file the user brings.
``abandoned``
    cancelled before it was ever found on the server: its requests are free to be sent again.

Only ``written`` and ``submitted`` entries are *unfinished*: their requests are never sent again
until the batch ends.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from cotgen.core.durable_files import write_json_atomic
from cotgen.core.errors import CotgenError

BATCHES_DIR = "batches"
EntryState = Literal["written", "submitted", "finished", "collected", "offline", "abandoned"]
UNFINISHED: frozenset[str] = frozenset({"written", "submitted"})
TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "expired", "cancelled", "failed"})


def new_marker() -> str:
    """A marker no other batch carries: the time (so entries sort by creation) and a random part."""
    return f"cotgen-{time.time_ns()}-{uuid.uuid4().hex[:12]}"


@dataclass
class BatchEntry:
    """One input file and the batch that carries it (see the module docstring for ``state``)."""

    marker: str
    input_file: str  # name inside the journal folder
    custom_ids: list[str]
    size: int
    model: str
    endpoint: str  # the server, for ``cotgen batch status`` (never a key)
    api_key_env: str
    state: EntryState = "written"
    created_at: float = field(default_factory=time.time)
    input_file_id: str | None = None
    batch_id: str | None = None
    status: str | None = None  # the server's status the last time it was asked
    request_counts: dict[str, int] = field(default_factory=dict)
    output_file: str | None = None  # local copies, names inside the journal folder
    error_file: str | None = None
    errors: list[str] = field(default_factory=list)  # a failed batch's reasons

    @property
    def unfinished(self) -> bool:
        return self.state in UNFINISHED

    @classmethod
    def from_json(cls, data: dict[str, Any], where: Path) -> BatchEntry:
        try:
            return cls(**data)
        except TypeError as exc:
            raise CotgenError(
                f"{where}: not a cotgen batch record ({exc}); move it out of the batches folder"
            ) from None


class Journal:
    """The entries of one run folder's ``batches/`` folder, saved atomically on every change."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, name: str) -> Path:
        return self.directory / name

    def save(self, entry: BatchEntry) -> None:
        """Write the entry (atomically: a kill leaves the old or the new version, never half)."""
        write_json_atomic(self.directory / f"{entry.marker}.json", asdict(entry))

    def entries(self) -> list[BatchEntry]:
        """Every entry, oldest first."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in sorted(self.directory.glob("cotgen-*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise CotgenError(f"{path}: not JSON ({exc}); move it out of the batches folder") from None
            found.append(BatchEntry.from_json(data, path))
        return sorted(found, key=lambda e: (e.created_at, e.marker))

    def in_states(self, states: Iterable[str]) -> list[BatchEntry]:
        wanted = set(states)
        return [e for e in self.entries() if e.state in wanted]

    def outstanding(self) -> set[str]:
        """The custom_ids of every unfinished entry: requests that must not be sent again yet."""
        return {cid for e in self.entries() if e.unfinished for cid in e.custom_ids}
