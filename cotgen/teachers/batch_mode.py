"""Which batch mode a command's options ask for, kept apart from the batch engine.

``build`` and ``predict`` both take ``--batch``, ``--batch-file-only`` and ``--batch-results``; their configs
ask this module, which imports nothing heavy, so a template build never loads the engine and its OpenAI client.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

BatchMode = Literal["online", "file_only", "results"]


def batch_mode(batch: bool, file_only: bool, results: Path | None) -> BatchMode | None:
    """Importing results, writing a file for ``vllm run-batch``, the Batch API, or None (synchronous requests).

    ``--batch-results`` wins over ``--batch-file-only``, which wins over ``--batch`` (the configs refuse the
    first two together).
    """
    if results is not None:
        return "results"
    if file_only:
        return "file_only"
    return "online" if batch else None
