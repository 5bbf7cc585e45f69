"""Which utterances of a run a predict run asks about: all of them, the ids of a file, or one split of an export.

``--export DIR --split test`` reads the ids of that split of an export: ``test.ids`` where the export
wrote one (every fold folder of ``--split loso:all`` / ``folds:N`` has them: every utterance of the
split, with or without a record), else the rows of its split files (``{sft,dpo,grpo}_test.jsonl``, every
row has an ``id``). So the model is asked about exactly the utterances it was not trained on, whatever
split protocol the export used.
"""

from __future__ import annotations

import json
from pathlib import Path

from cotgen.core.errors import CotgenError
from cotgen.core.ids import parse_id_list, read_id_file
from cotgen.core.jsonl import iter_json_lines

SPLIT_NAMES: tuple[str, ...] = ("train", "validation", "test")
EXPORT_INFO = "export.json"
RECORD_KINDS: tuple[str, ...] = ("sft", "dpo", "grpo")


def ids_from_file(path: Path, option: str = "--ids") -> list[str]:
    """The ids ``--ids`` names (:func:`cotgen.core.ids.read_id_file`, the reader eval's ``--ids`` uses too)."""
    return read_id_file(path, option)


def ids_from_export(export_dir: Path, split: str) -> list[str]:
    """The ids of one split of an export folder, in file order, each once."""
    if split not in SPLIT_NAMES:
        raise CotgenError(f"--split {split!r}: expected one of {', '.join(SPLIT_NAMES)}")
    listed = export_dir / f"{split}.ids"
    if listed.is_file():
        if not parse_id_list(listed.read_text(encoding="utf-8", errors="replace")):
            # a fold of the standard protocols has no validation set unless the export asked for one (+val:S)
            hint = "export with --split …+val:S to hold one out" if split == "validation" else "pick another --split"
            raise CotgenError(
                f"--export {export_dir}: its {split} split is empty (this export has no {split} set; {hint})"
            )
        return ids_from_file(listed, "--export")
    files = [export_dir / f"{kind}_{split}.jsonl" for kind in RECORD_KINDS]
    found = [path for path in files if path.is_file()]
    if not found:
        names = ", ".join(path.name for path in files)
        folds = sorted(p.name for p in export_dir.glob("fold_*") if p.is_dir())
        hint = (
            f"it holds folds ({', '.join(folds)}): pass one of them, e.g. --export {export_dir / folds[0]}"
            if folds
            else "run `cotgen export` into that folder"
        )
        raise CotgenError(f"--export {export_dir}: none of {names} exists ({hint})")
    ids: dict[str, None] = {}
    for path in found:
        for lineno, row in iter_json_lines(path, "export row"):
            if not isinstance(row.get("id"), str):
                raise CotgenError(f"{path}:{lineno}: expected an export row with an 'id' string")
            ids[row["id"]] = None
    return list(ids)


def label_words_of_export(export_dir: Path) -> dict[str, str] | None:
    """The label words an export wrote on its label lines (its ``export.json``), or None: the class codes."""
    info = export_dir / EXPORT_INFO
    if not info.is_file():
        return None
    try:
        words = json.loads(info.read_text(encoding="utf-8")).get("label_words")
    except (json.JSONDecodeError, AttributeError, UnicodeDecodeError) as exc:
        raise CotgenError(f"{info}: not the export.json `cotgen export` writes ({exc})") from None
    if words is None:
        return None
    if not isinstance(words, dict) or not all(isinstance(w, str) for w in words.values()):
        raise CotgenError(f"{info}: 'label_words' must map class code to word")
    return {str(code): word for code, word in words.items()}
