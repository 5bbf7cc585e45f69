"""Reading ``run.json``, the run's shared summary, defensively.

Several stages (build, pairs, export, stats) each own keys of the same object; they write their own
key with :func:`cotgen.pairs.run_json.update_run_json`. The late stages read the object back here,
treating an absent file as empty and a malformed one as a user error naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cotgen.errors import CotgenError
from cotgen.pairs.run_json import RUN_JSON


def read_run_info(run_dir: Path) -> dict[str, Any]:
    """``run.json`` as a dict; empty when absent. A file that is not a JSON object is a user error."""
    path = run_dir / RUN_JSON
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CotgenError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise CotgenError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data
