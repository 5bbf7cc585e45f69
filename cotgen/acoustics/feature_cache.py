"""The on-disk feature cache: identical audio is analysed once, across runs and corpora.

A result is stored under the SHA-256 of the audio file's bytes, inside a folder named by the
fingerprint of the analysis settings and extractor version, so renaming or copying a clip reuses its
row, while changed audio or changed settings miss the cache and recompute only what changed. Each
entry is one small JSON file written atomically (temporary file + rename), so parallel runs sharing
the cache never see a half-written entry.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cotgen.acoustics.settings import AnalysisSettings

_CHUNK = 1 << 20


def content_hash(path: str | Path) -> str:
    """SHA-256 of a file's bytes (raises OSError when it cannot be read)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class FeatureCache:
    """Feature values and error of one audio content, keyed by content hash under one settings fingerprint."""

    def __init__(self, root: Path, settings: AnalysisSettings) -> None:
        self.folder = Path(root) / "features" / settings.fingerprint()

    def _entry(self, digest: str) -> Path:
        return self.folder / digest[:2] / f"{digest}.json"

    def get(self, digest: str) -> dict[str, Any] | None:
        """The stored values (feature columns and ``error``), or None when absent or unreadable."""
        try:
            return json.loads(self._entry(digest).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def put(self, digest: str, values: dict[str, Any]) -> None:
        """Store values for a content hash; NaN is kept as JSON ``NaN`` so it round-trips exactly."""
        entry = self._entry(digest)
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_name(f"{entry.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(values), encoding="utf-8")
        tmp.replace(entry)
