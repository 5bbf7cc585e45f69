"""Read-modify-write of ``run.json``, the run's shared summary.

Several stages (build, pairs, export, stats) each own keys of the same object; updating it by
replacing one key atomically keeps every other stage's keys and never leaves a half-written file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cotgen.errors import CotgenError

RUN_INFO = "run.json"


def read_run_info(run_dir: Path) -> dict[str, Any]:
    """``run.json`` as a dict; empty when absent. A file that is not a JSON object is a user error."""
    path = run_dir / RUN_INFO
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CotgenError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise CotgenError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def update_run_info(run_dir: Path, key: str, value: Any) -> dict[str, Any]:
    """Set one top-level key of ``run.json`` (keeping all others) and write it atomically."""
    data = read_run_info(run_dir)
    data[key] = value
    path = run_dir / RUN_INFO
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return data
