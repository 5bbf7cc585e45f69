"""Asking through the OpenAI Batch API (or an offline ``vllm run-batch``) instead of one request at a time.

Half the price and a separate rate pool, at the cost of waiting: requests are written as Batch API
lines, uploaded, submitted and polled; the answers come back in an output file and the failures in
an error file, matched to their requests by ``custom_id`` only. The engine here knows nothing of
builds or predictions: it takes ``(custom_id, body)`` requests and hands back, per ``custom_id``,
an answer, a failure with its reason, or "not run" (expired, cancelled, in neither file). Every
submitted batch is recorded in the run folder before it is submitted, so a killed process can be
rerun and reattaches instead of paying again.

- :mod:`~cotgen.teachers.batch.lines`: the file formats (request lines, split files, result rows).
- :mod:`~cotgen.teachers.batch.journal`: ``RUN/batches/``, one JSON file per submitted file.
- :mod:`~cotgen.teachers.batch.engine`: upload, submit, reattach, poll, download, cancel.
"""

from cotgen.teachers.batch.engine import BatchEngine, BatchSettings, Collected
from cotgen.teachers.batch.journal import BatchEntry, Journal
from cotgen.teachers.batch.lines import Answered, BatchRequest, Failed

__all__ = [
    "Answered",
    "BatchEngine",
    "BatchEntry",
    "BatchRequest",
    "BatchSettings",
    "Collected",
    "Failed",
    "Journal",
]
