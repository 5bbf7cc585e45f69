"""The batch options of ``cotgen build`` and ``cotgen predict`` (docs/batch.md), and the line that reports them.

Defined once so both commands spell, document and default them identically. This module registers no
command; it is imported by the command modules that use it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cotgen.cli.app import console

BatchOption = Annotated[
    bool, typer.Option("--batch", help="Ask through the OpenAI Batch API (half price, answers within 24 h).")
]
BatchFileOnlyOption = Annotated[
    bool, typer.Option("--batch-file-only", help="Write the requests as a JSONL file for vllm run-batch and stop.")
]
BatchResultsOption = Annotated[
    Path | None, typer.Option("--batch-results", help="Import a vllm run-batch output file (then write what is left).")
]
BatchPollOption = Annotated[
    float, typer.Option("--batch-poll", help="Seconds between the first status checks of a batch (backs off).")
]
BatchWaitOption = Annotated[
    bool,
    typer.Option("--batch-wait/--no-batch-wait", help="Wait for batches, or submit and stop (rerun collects)."),
]


def print_batch(batch: dict[str, Any] | None) -> None:
    """What the batch rounds did, and where the requests an offline server must answer are."""
    if not batch:
        return
    console.print(
        f"batch: {batch['rounds']} round(s), {batch['batches_submitted']} batch(es) submitted, {batch['answered']} "
        f"answered, {batch['failed_rows']} error rows, {batch['not_run']} not run (asked again)",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if batch.get("stopped"):
        console.print(f"batch: {batch['stopped']}", markup=False, highlight=False, soft_wrap=True)
    for path in batch["files"]:
        console.print(
            f"requests to answer: {path}  (vllm run-batch -i {path} -o results.jsonl --model MODEL; "
            "then rerun with --batch-results results.jsonl)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
