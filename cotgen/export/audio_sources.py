"""Which audio files may leave the machine: clips under the corpus root that the features stage decoded.

A manifest's ``audio`` column can name any file: ``/etc/hostname``, a symlink to a private key, a clip the
features stage rejected as unreadable. Publishing, ``review --copy-audio`` and ``export --audio copy`` copy
or reference a clip only when (1) the file, symlinks resolved, lies inside the corpus root cotgen read
(``run.json`` ``corpus.root``, resolved the same way), and (2) its utterance decoded as audio at the
features stage (``features.parquet`` holds it without an ``error``). Staged paths are relative to that
root; a file outside it is refused, naming ``--allow-outside-root``, which stages it under ``outside/``
after listing it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from cotgen.acoustics.table import FEATURES_FILE
from cotgen.core.durable_files import read_run_json
from cotgen.corpora.registry import corpus_folder
from cotgen.export.record_readers import UTTERANCES
from cotgen.records.utterance import iter_utterances

OUTSIDE_DIR = "outside"
OUTSIDE_ROOT = "outside the corpus root"
NOT_MEASURED = "not measured as audio (a features reject, or never measured)"
ALLOW_OUTSIDE = "--allow-outside-root"


def run_corpus_root(run_dir: Path) -> Path:
    """The corpus root a run read: ``run.json`` ``corpus.root``, else resolved again from the run's config."""
    info = read_run_json(run_dir)
    corpus = info.get("corpus") if isinstance(info.get("corpus"), dict) else {}
    if isinstance(corpus.get("root"), str):
        return Path(os.path.realpath(corpus["root"]))
    config = info.get("config") if isinstance(info.get("config"), dict) else {}
    name = config.get("corpus") or corpus.get("name") or "demo"
    given = config.get("root")
    return corpus_folder(str(name), Path(given) if isinstance(given, str) else None)


def measured_ids(run_dir: Path) -> set[str]:
    """Ids whose clip the features stage decoded: rows of ``features.parquet`` without an error."""
    path = run_dir / FEATURES_FILE
    if not path.exists():
        return set()
    table = pq.read_table(path, columns=["id", "error"])
    return {uid for uid, error in zip(table.column("id").to_pylist(), table.column("error").to_pylist()) if not error}


@dataclass
class MeasuredAudio:
    """The clips of a run that may leave the machine, and the verdict on any other path."""

    root: Path
    clips: set[str]  # resolved paths of measured clips
    allow_outside: bool = False
    outside: dict[str, str] = field(default_factory=dict)  # resolved path -> staged name, in order seen

    @classmethod
    def of_run(cls, run_dir: Path, allow_outside: bool = False) -> MeasuredAudio:
        """Read the run's corpus root, its utterances' clips and the features stage's verdicts."""
        ok = measured_ids(run_dir)
        clips = {os.path.realpath(utt.audio) for utt in iter_utterances(run_dir / UTTERANCES) if utt.id in ok}
        return cls(run_corpus_root(run_dir), clips, allow_outside)

    def problem(self, path: str | Path) -> str | None:
        """Why the file at ``path`` may not leave the machine as audio, or None when it may."""
        resolved = os.path.realpath(path)
        if not self.allow_outside and not self.inside_root(resolved):
            return OUTSIDE_ROOT
        return None if resolved in self.clips else NOT_MEASURED

    def allowed_outside(self) -> list[str]:
        """Measured clips outside the root that ``--allow-outside-root`` lets through (seen so far)."""
        return sorted(self.outside)

    def inside_root(self, resolved: str) -> bool:
        """True when a resolved path lies under the corpus root."""
        return Path(resolved).is_relative_to(self.root)

    def staged_name(self, path: str | Path) -> str:
        """The path a staged record holds: relative to the corpus root, or ``outside/<hash>/<name>``."""
        resolved = os.path.realpath(path)
        if self.inside_root(resolved):
            return Path(resolved).relative_to(self.root).as_posix()
        if resolved not in self.outside:
            digest = hashlib.sha256(resolved.encode("utf-8", "surrogateescape")).hexdigest()[:12]
            self.outside[resolved] = f"{OUTSIDE_DIR}/{digest}/{Path(resolved).name}"
        return self.outside[resolved]


# Leading bytes of the audio containers cotgen decodes (WAV, FLAC, Ogg/Opus, MP3, AIFF, MP4/M4A, WebM, CAF).
_AUDIO_MAGIC = (b"RIFF", b"RF64", b"fLaC", b"OggS", b"ID3", b"FORM", b"\x1aE\xdf\xa3", b"caff")


def looks_like_audio(path: Path) -> bool:
    """True when the file starts like an audio container (its first 12 bytes), for the dry-run listing's flag."""
    with path.open("rb") as handle:
        head = handle.read(12)
    if head.startswith(_AUDIO_MAGIC):
        return True
    mpeg_frame = len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0
    return mpeg_frame or head[4:8] == b"ftyp"


def refusal(what: str, outside: list[str]) -> str:
    """The one-line error for clips outside the corpus root: how many, the first, and the way out."""
    return (
        f"{what}: {len(outside)} audio path(s) lie {OUTSIDE_ROOT} (symlinks resolved), first {outside[0]}; "
        f"they are not copied or referenced; pass {ALLOW_OUTSIDE} to stage them under {OUTSIDE_DIR}/ "
        "(each is listed first)"
    )
