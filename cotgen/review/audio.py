"""Where the page finds each clip: a relative link from the page's folder, or a copy beside it.

A page opened from ``file://`` resolves a relative ``src`` against its own folder, so a link keeps working
when the run and its corpus move together; ``--copy-audio`` makes the page folder self-contained instead.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from urllib.parse import quote

AUDIO_DIR = "audio"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class AudioLinks:
    """Links the page's audio elements use, copying clips into ``out/audio/`` when asked to."""

    def __init__(self, out_dir: Path, copy: bool) -> None:
        self.out_dir = out_dir
        self.copy = copy
        self.missing = 0
        self.copied = 0

    def link(self, position: int, utterance_id: str, audio: str) -> str | None:
        """The URL (relative to the page) of one utterance's clip; None, and counted, when it is not on disk."""
        source = Path(audio)
        if not source.is_file():
            self.missing += 1
            return None
        if self.copy:
            # The position keeps two ids that sanitise alike apart; the id keeps the file recognisable.
            target = self.out_dir / AUDIO_DIR / f"{position:06d}_{_UNSAFE.sub('_', utterance_id)}{source.suffix}"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            self.copied += 1
            relative = target.relative_to(self.out_dir).as_posix()
        else:
            relative = Path(os.path.relpath(source.resolve(), self.out_dir.resolve())).as_posix()
        return "/".join(quote(part) for part in relative.split("/"))
