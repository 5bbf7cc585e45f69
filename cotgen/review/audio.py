"""Where the page finds each clip: a relative link from the page's folder, or a copy beside it.

A page opened from ``file://`` resolves a relative ``src`` against its own folder, so a link keeps working
when the run and its corpus move together; ``--copy-audio`` makes the page folder self-contained instead.
Only clips the run measured as audio under its corpus root are linked or copied
(:mod:`cotgen.export.audio_sources`); any other path is counted as refused, never copied.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import quote

from cotgen.export.audio_sources import OUTSIDE_ROOT, MeasuredAudio
from cotgen.export.messages import copy_name

AUDIO_DIR = "audio"


class AudioLinks:
    """Links the page's audio elements use, copying clips into ``out/audio/`` when asked to."""

    def __init__(self, out_dir: Path, copy: bool, measured: MeasuredAudio) -> None:
        self.out_dir = out_dir
        self.copy = copy
        self.measured = measured
        self.missing = 0
        self.copied = 0
        self.outside: list[str] = []  # clips outside the corpus root, not linked
        self.unmeasured = 0  # clips the features stage did not decode, not linked

    def link(self, position: int, utterance_id: str, audio: str) -> str | None:
        """The URL (relative to the page) of one utterance's clip; None, and counted, when it may not be shown."""
        source = Path(audio)
        if not source.is_file():
            self.missing += 1
            return None
        problem = self.measured.problem(source)
        if problem is not None:
            if problem == OUTSIDE_ROOT:
                self.outside.append(os.path.realpath(source))
            else:
                self.unmeasured += 1
            return None
        if self.copy:
            # The position keeps two ids apart whatever a file system folds (case, normal form); the id, cut to a
            # bounded name with a hash where it had to change, keeps the file recognisable.
            target = self.out_dir / AUDIO_DIR / f"{position:06d}_{copy_name(utterance_id)}{source.suffix.lower()}"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(os.path.realpath(source), target)
            self.copied += 1
            relative = target.relative_to(self.out_dir).as_posix()
        else:
            relative = Path(os.path.relpath(os.path.realpath(source), self.out_dir.resolve())).as_posix()
        return "/".join(quote(part) for part in relative.split("/"))
