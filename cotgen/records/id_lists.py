"""Files that list utterance ids (``--ids``, ``--train-ids``, an export's ``test.ids``), read one way everywhere.

``eval --ids`` and ``predict --ids`` are one option, so they take one format: one id a line, or JSONL rows with an
``id`` (an export's ``sft_test.jsonl`` works as it is); blank lines and lines starting with ``#`` are skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

from cotgen.core.errors import CotgenError


def read_id_list(path: Path, option: str = "--ids") -> list[str]:
    """The ids of ``path`` in file order, each once; a line that is neither an id nor a JSON row with one is named."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise CotgenError(f"{option} {path}: cannot read ({exc.strerror or exc})") from None
    ids: dict[str, None] = {}
    with handle:
        for lineno, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise CotgenError(f"{path}:{lineno}: not UTF-8 text; save the file as UTF-8") from None
            if not text or text.startswith("#"):
                continue
            if not text.startswith("{"):
                ids[text] = None
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                raise CotgenError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(record.get("id"), str):
                raise CotgenError(f"{path}:{lineno}: JSON row without a string 'id'")
            ids[record["id"]] = None
    if not ids:
        raise CotgenError(f"{option} {path}: no id in the file (expected one id a line, or JSONL rows with an 'id')")
    return list(ids)
