"""Per-corpus notes (``corpora/<name>.md``): machine-readable front matter for cards and publishing.

Licence and redistribution rights decide what ``publish`` may upload and what the dataset card says, so
they live in one reviewed file per corpus rather than in code. The YAML front matter carries
``pretty_name``, ``license`` (a Hugging Face licence id), ``redistribution`` (``open`` or ``restricted``),
``citation`` (BibTeX) and ``language``; the Markdown body documents the class map and protocol.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cotgen.core.errors import CotgenError
from cotgen.core.paths import CORPORA_DIR
from cotgen.corpora.registry import canonical_name

REQUIRED_FIELDS = ("pretty_name", "license", "redistribution", "citation", "language")
REDISTRIBUTION_VALUES = frozenset({"open", "restricted"})
FENCE = "---"


def note_path(name: str, directory: Path = CORPORA_DIR) -> Path:
    """``<name>.md`` in the notes folder for a corpus name or alias."""
    return directory / f"{canonical_name(name)}.md"


def parse_note(text: str, source: str) -> dict[str, Any]:
    """Front matter fields plus ``body`` (the Markdown after the front matter); CotgenError naming ``source``."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != FENCE:
        raise CotgenError(f"{source}:1: expected a YAML front matter block starting with '---'")
    try:
        end = next(i for i, line in enumerate(lines[1:], start=1) if line.strip() == FENCE)
    except StopIteration:
        raise CotgenError(f"{source}: front matter is not closed by a '---' line") from None
    try:
        fields = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as exc:
        raise CotgenError(f"{source}: front matter is not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(fields, dict):
        raise CotgenError(f"{source}: front matter must be a mapping of fields")
    missing = [name for name in REQUIRED_FIELDS if name not in fields]
    if missing:
        raise CotgenError(f"{source}: front matter lacks {', '.join(missing)}")
    if fields["redistribution"] not in REDISTRIBUTION_VALUES:
        raise CotgenError(f"{source}: redistribution must be open or restricted, not {fields['redistribution']!r}")
    return {**fields, "body": "\n".join(lines[end + 1 :]).strip() + "\n"}


def corpus_note(name: str, directory: Path = CORPORA_DIR) -> dict[str, Any]:
    """The note of corpus ``name``: front matter fields (license, redistribution, citation, ...) and ``body``."""
    path = note_path(name, directory)
    if not path.is_file():
        raise CotgenError(f"{path}: no note for corpus {canonical_name(name)!r}")
    return parse_note(path.read_text(encoding="utf-8"), str(path))
