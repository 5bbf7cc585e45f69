"""Recording a stage's counts in ``run.json`` without disturbing what other stages wrote there.

Several stages (build, pairs, grpo, export) add their own key to the same JSON object, so each
update reads the file, replaces only its key and renames a temporary file into place: a crash
never leaves a half-written ``run.json`` and no other stage's key is dropped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cotgen.errors import CotgenError

RUN_JSON = "run.json"


def update_run_json(run_dir: Path, key: str, value: Any) -> Path:
    """Set ``run.json[key] = value`` by read-modify-write with an atomic replace; returns the path."""
    path = run_dir / RUN_JSON
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise CotgenError(
                f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); expected the run's JSON object"
            ) from None
        if not isinstance(data, dict):
            raise CotgenError(f"{path}: expected a JSON object, found {type(data).__name__}")
    data[key] = value
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
