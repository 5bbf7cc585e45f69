"""The lines ``cotgen build --batch`` and ``cotgen predict --batch`` print about their batch rounds.

Shared so both commands report a batch alike; the batch options themselves are in cotgen/cli/options.py. This
module registers no command.
"""

from __future__ import annotations

from typing import Any

from cotgen.cli.app import console


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
