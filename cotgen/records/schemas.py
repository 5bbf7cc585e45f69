"""JSON Schema files in ``schemas/``, generated from the pydantic models.

Run ``python -m cotgen.records.schemas`` after changing a model; a test fails when the committed files drift.
Stages that add record models register them in :data:`MODELS`.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from cotgen.core.paths import PROJECT_ROOT
from cotgen.records.prediction import PredictionRecord
from cotgen.records.review import ReviewRecord
from cotgen.records.run_records import DPORecord, GRPORecord, RejectRecord, SFTRecord, TraceRecord
from cotgen.records.trace import Trace
from cotgen.records.utterance import Utterance

SCHEMAS_DIR = PROJECT_ROOT / "schemas"

MODELS: dict[str, type[BaseModel]] = {
    "utterance": Utterance,
    "trace": Trace,
    "trace_record": TraceRecord,
    "reject_record": RejectRecord,
    "sft_record": SFTRecord,
    "dpo_record": DPORecord,
    "grpo_record": GRPORecord,
    "prediction_record": PredictionRecord,
    "review_record": ReviewRecord,
}


def render_schemas() -> dict[str, str]:
    """File name -> JSON text for every registered model."""
    return {
        f"{name}.schema.json": json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n"
        for name, model in MODELS.items()
    }


def write_schemas(directory: Path = SCHEMAS_DIR) -> list[Path]:
    """Write every schema file; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_schemas().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_schemas():
        print(path)
