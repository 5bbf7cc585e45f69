"""The Batch API engine: write, upload, submit, reattach, poll, download, collect and cancel batches.

The engine takes :class:`~cotgen.teachers.batch.lines.BatchRequest` objects and gives back a
:class:`Collected`: per ``custom_id`` an answer (the chat completion, for the caller to validate
like a synchronous one), a failure with its reject reason, or "not run". It never decides what an
answer means, and it never sends a request twice while an earlier batch carrying it is unfinished.

Kill -9 safety is the order of the steps, each recorded in the journal
(:mod:`~cotgen.teachers.batch.journal`) before the next begins: the input file and its entry are
written, then the file is uploaded (its id recorded), then the batch is created with the entry's
marker in its ``metadata``, then the batch id is recorded. A kill between creating and recording
leaves an entry without a batch id: before submitting such an entry, a later process lists the
server's batches and adopts the one carrying its marker. The same check runs after a create whose
outcome is unknown (a timeout, a dropped connection, a 5xx): the batch may exist, so it is looked
for before the create is retried. A kill during the upload leaves at most an unused file on the
server, which costs nothing.

Every call to ``/v1/files`` and ``/v1/batches`` retries 429, 5xx, timeouts and dropped connections
with the teacher's capped, jittered backoff honouring Retry-After; a 401 or another 4xx stops with
one line naming the step (the journal keeps everything, so a rerun with the problem fixed goes on).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from openai import APIConnectionError, APIStatusError, APITimeoutError, OpenAI

from cotgen.core.errors import CotgenError
from cotgen.core.redact import blank_secrets
from cotgen.teachers.batch.journal import (
    BATCHES_DIR,
    TERMINAL_STATUSES,
    BatchEntry,
    EntryState,
    Journal,
    new_marker,
)
from cotgen.teachers.batch.lines import (
    BATCH_URL,
    MAX_BYTES,
    MAX_REQUESTS,
    Answered,
    BatchRequest,
    Failed,
    ShardWriter,
    body_digest,
    iter_request_lines,
    iter_result_rows,
)
from cotgen.teachers.batch_mode import BatchMode
from cotgen.teachers.openai_teacher import (
    TeacherConfig,
    display_url,
    resolve_api_key,
    resolve_base_url,
    retry_cause,
    scrub,
    server_message,
)
from cotgen.teachers.ratelimit import parse_retry_after, retry_delay

COMPLETION_WINDOW = "24h"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
MARKER_KEY = "cotgen_marker"
# A batch created more than this long before its entry was written cannot be that entry's batch.
_CLOCK_SLACK_S = 3600.0
_LIST_PAGE = 100

logger = logging.getLogger("cotgen.batch")
T = TypeVar("T")
# online: the Batch API; file_only: write a file for vllm run-batch; results: import its output, write what is left.


@dataclass(frozen=True)
class BatchSettings:
    """How batches are split and polled; polls start at ``poll_interval`` seconds and back off to ``poll_cap``."""

    poll_interval: float = 30.0
    poll_cap: float = 600.0
    wait: bool = True  # False: poll each unfinished batch once and return (a rerun collects the rest)
    max_requests: int = MAX_REQUESTS
    max_bytes: int = MAX_BYTES

    def __post_init__(self) -> None:
        if self.poll_interval <= 0 or self.poll_cap < self.poll_interval:
            raise CotgenError(f"--batch-poll must be positive and at most {self.poll_cap:g} s")


@dataclass
class Collected:
    """The rows of finished batches, by ``custom_id`` (each request in exactly one of the three)."""

    answers: dict[str, dict[str, Any]] = field(default_factory=dict)  # custom_id -> chat completion
    failures: dict[str, Failed] = field(default_factory=dict)
    not_run: set[str] = field(default_factory=set)  # expired, cancelled, or in neither file: still to do
    digests: dict[str, str] = field(default_factory=dict)  # custom_id -> body_digest of the request sent
    entries: list[BatchEntry] = field(default_factory=list)
    unmatched: int = 0  # rows whose custom_id none of the entries sent
    duplicates: int = 0  # second rows for one custom_id (the first counts)

    @property
    def rows(self) -> int:
        """Requests that came back with an answer or a failure."""
        return len(self.answers) + len(self.failures)


StatusHook = Callable[[BatchEntry], None]
# A round's work: take the rows over (durably), add() every request still needing an answer, and return the
# custom_ids of rows it could not take over yet (their batches stay "finished" and are read again next time).
Step = Callable[[Collected, Callable[[BatchRequest], None]], Iterable[str]]


@dataclass
class RoundsReport:
    """What :meth:`BatchEngine.run_rounds` did, for run.json and the command's summary."""

    rounds: int = 0
    failed: int = 0  # rows that carried an error (and a reject reason)
    not_run: int = 0  # requests a batch never ran (expired, cancelled, in neither file)
    files: list[str] = field(default_factory=list)  # offline: the request files to give vllm run-batch
    stopped: str | None = None  # why it stopped with requests still to do (None: nothing left to ask)


class BatchEngine:
    """Batches of one run folder (``RUN/batches/``, or the ``journal`` folder given) on one OpenAI-compatible server."""

    def __init__(
        self,
        config: TeacherConfig,
        run_dir: Path,
        settings: BatchSettings | None = None,
        on_status: StatusHook | None = None,
        sleep: Callable[[float], None] = time.sleep,
        journal: Path | None = None,
    ) -> None:
        self.config = config
        self.settings = settings or BatchSettings()
        self.journal = Journal(journal if journal is not None else run_dir / BATCHES_DIR)
        self._on_status = on_status or (lambda entry: None)
        self._sleep = sleep
        self._fresh: set[str] = set()  # markers written by this process: no batch can carry them yet
        self.created = 0  # batches this engine created (not adopted)

    # ------------------------------------------------------------------ client

    @cached_property
    def _key(self) -> str:
        return resolve_api_key(self.config)

    @cached_property
    def client(self) -> OpenAI:
        """The synchronous client, made on first use (``--batch-file-only`` never needs one, nor a key)."""
        return OpenAI(
            api_key=self._key,
            base_url=resolve_base_url(self.config),
            max_retries=0,  # one retry layer: _call's
            timeout=self.config.timeout,
        )

    def _call(self, what: str, send: Callable[[], T], recheck: Callable[[], T | None] | None = None) -> T:
        """``send()``, retried on 429/5xx/timeouts; ``recheck()`` first looks whether an unclear attempt took effect."""
        attempt = 0
        while True:
            attempt += 1
            unclear = False
            try:
                return send()
            except APIStatusError as exc:
                status = exc.status_code
                if status == 401:
                    raise CotgenError(
                        f"{what}: the server rejected the API key from {self.config.api_key_env} (HTTP 401); "
                        "fix it and rerun: the batches recorded in RUN/batches/ are picked up where they stopped"
                    ) from None
                cause = retry_cause(status)
                detail = f"HTTP {status}: {scrub(server_message(exc), self._key)}"
                if status == 404:
                    detail += f" (not on {display_url(resolve_base_url(self.config) or DEFAULT_BASE_URL)}: each record"
                    detail += " in RUN/batches/ names the server its batch went to; use that --base-url)"
                if cause is None:
                    raise CotgenError(f"{what}: {detail}") from None
                retry_after = parse_retry_after(exc.response.headers)
                unclear = status != 429
            except APITimeoutError:
                detail, retry_after, unclear = f"no answer within {self.config.timeout:g} s", None, True
            except APIConnectionError as exc:
                detail, retry_after, unclear = f"connection failed ({type(exc.__cause__).__name__})", None, True
            if attempt > self.config.max_retries:
                raise CotgenError(
                    f"{what}: gave up after {attempt} attempts ({detail}); rerun to go on from RUN/batches/"
                )
            logger.warning("%s: %s; retrying", what, detail)
            self._sleep(retry_delay(attempt, retry_after, self.config.backoff_base, self.config.backoff_cap))
            if unclear and recheck is not None:
                found = recheck()
                if found is not None:
                    return found

    # ------------------------------------------------------------------ writing

    def open_round(self, split: bool = True) -> ShardWriter:
        """A writer for the requests of one round, split into files at the API's limits (or one offline file)."""
        if not split:  # vllm run-batch reads a file of any size
            return ShardWriter(self.journal.directory, new_marker(), max_requests=10**12, max_bytes=10**15)
        return ShardWriter(self.journal.directory, new_marker(), self.settings.max_requests, self.settings.max_bytes)

    def record_round(self, writer: ShardWriter, state: EntryState = "written") -> list[BatchEntry]:
        """Close the writer and record one entry per file written (before anything is uploaded)."""
        entries = []
        for shard in writer.close():
            entry = BatchEntry(
                marker=shard.path.stem,
                input_file=shard.path.name,
                custom_ids=shard.custom_ids,
                size=shard.size,
                model=self.config.model,
                endpoint=display_url(resolve_base_url(self.config) or DEFAULT_BASE_URL),
                api_key_env=self.config.api_key_env,
                state=state,
            )
            self.journal.save(entry)
            self._fresh.add(entry.marker)
            entries.append(entry)
        return entries

    def is_own(self, entry: BatchEntry) -> bool:
        """Whether this engine wrote the entry (rather than an earlier, killed process)."""
        return entry.marker in self._fresh

    def abandon(self, entries: Iterable[BatchEntry]) -> None:
        """Give up written entries before they are submitted: their requests are free to be sent by a rerun."""
        for entry in entries:
            if entry.state != "written" or entry.batch_id is not None:
                raise ValueError(f"{entry.marker}: only an entry not yet submitted can be abandoned")
            entry.state = "abandoned"
            self.journal.save(entry)

    def outstanding(self) -> set[str]:
        """custom_ids in unfinished batches: not to be sent again until those batches end."""
        return self.journal.outstanding()

    # ------------------------------------------------------------------ submitting

    def submit_written(self) -> None:
        """Submit every ``written`` entry, adopting the batch a killed process created but never recorded."""
        for entry in self.journal.in_states(["written"]):
            self._submit(entry)

    def _submit(self, entry: BatchEntry) -> None:
        if entry.marker not in self._fresh:  # written by an earlier process: its batch may exist
            found = self._find(entry)
            if found is not None:
                logger.info("batch %s: found on the server (created before a kill), not submitted again", found["id"])
                self._record_batch(entry, found)
                return
        if entry.input_file_id is None:
            path = self.journal.path(entry.input_file)

            def upload() -> Any:
                with path.open("rb") as handle:
                    return self.client.files.create(file=(path.name, handle), purpose="batch")

            entry.input_file_id = self._call(f"uploading {path.name}", upload).id
            self.journal.save(entry)

        def create() -> dict[str, Any]:
            batch = self.client.batches.create(
                input_file_id=entry.input_file_id or "",
                endpoint=BATCH_URL,
                completion_window=COMPLETION_WINDOW,
                metadata={MARKER_KEY: entry.marker},
            )
            return batch.model_dump()

        batch = self._call(f"submitting {entry.input_file}", create, recheck=lambda: self._find(entry))
        self.created += 1
        self._record_batch(entry, batch)
        logger.info("batch %s submitted: %d requests (%s)", batch["id"], len(entry.custom_ids), entry.input_file)

    def _record_batch(self, entry: BatchEntry, batch: dict[str, Any]) -> None:
        entry.batch_id = batch["id"]
        entry.state = "submitted"
        self._update(entry, batch)
        self.journal.save(entry)

    def _find(self, entry: BatchEntry) -> dict[str, Any] | None:
        """The server's batch whose metadata carries the entry's marker (newest first, stopping at older ones)."""

        def scan() -> dict[str, Any] | None:
            for batch in self.client.batches.list(limit=_LIST_PAGE):
                data = batch.model_dump()
                if (data.get("metadata") or {}).get(MARKER_KEY) == entry.marker:
                    return data
                if data.get("created_at", 0) < entry.created_at - _CLOCK_SLACK_S:
                    return None
            return None

        return self._call(f"looking for the batch of {entry.input_file}", scan)

    # ------------------------------------------------------------------ polling

    def poll(self) -> None:
        """Poll every submitted batch until it ends (or once each, without ``wait``), then copy its files here."""
        delay = self.settings.poll_interval
        while True:
            live = self.journal.in_states(["submitted"])
            changed = False
            for entry in live:
                before = (entry.status, dict(entry.request_counts))
                batch = self._retrieve(entry)
                self._update(entry, batch)
                changed = changed or before != (entry.status, entry.request_counts)
                if entry.status in TERMINAL_STATUSES:
                    self._finish(entry, batch)
                self.journal.save(entry)
                self._on_status(entry)
            if not self.journal.in_states(["submitted"]) or not self.settings.wait:
                return
            delay = self.settings.poll_interval if changed else min(delay * 1.5, self.settings.poll_cap)
            self._sleep(delay)

    def wait(self) -> None:
        """Submit what is written, then poll until every batch of the run folder has ended."""
        self.submit_written()
        self.poll()

    @staticmethod
    def _update(entry: BatchEntry, batch: dict[str, Any]) -> None:
        entry.status = batch.get("status")
        counts = batch.get("request_counts") or {}
        entry.request_counts = {k: int(counts.get(k) or 0) for k in ("total", "completed", "failed")}

    def _finish(self, entry: BatchEntry, batch: dict[str, Any]) -> None:
        """Copy the output and error files next to the entry (the rows are read from the copies)."""
        for attribute, file_id, suffix in (
            ("output_file", batch.get("output_file_id"), "output"),
            ("error_file", batch.get("error_file_id"), "errors"),
        ):
            if file_id:
                name = f"{entry.marker}.{suffix}.jsonl"
                self._download(file_id, self.journal.path(name))
                setattr(entry, attribute, name)
        errors = (batch.get("errors") or {}).get("data") or []
        entry.errors = [scrub(f"{e.get('code')}: {e.get('message')}", self._key) for e in errors]
        entry.state = "finished"
        logger.info(
            "batch %s %s: %s",
            entry.batch_id,
            entry.status,
            ", ".join(f"{k} {v}" for k, v in entry.request_counts.items()),
        )

    def _download(self, file_id: str, path: Path) -> None:
        """Copy a server file here, line by line with every known secret blanked (a server may quote the key)."""
        tmp = path.with_name(path.name + ".download")

        def fetch() -> None:
            with self.client.files.with_streaming_response.content(file_id) as response, tmp.open("wb") as handle:
                for chunk in response.iter_bytes():
                    handle.write(chunk)

        self._call(f"downloading {file_id}", fetch)
        scrubbed = path.with_name(path.name + ".tmp")
        with tmp.open("rb") as source, scrubbed.open("wb") as target:
            for line in source:
                text = blank_secrets(line.decode("utf-8", "surrogateescape"))
                target.write(text.encode("utf-8", "surrogateescape"))
        scrubbed.replace(path)
        tmp.unlink()

    # ------------------------------------------------------------------ collecting

    def finished(self) -> list[BatchEntry]:
        """Entries whose batch ended and whose rows the caller has not yet taken over."""
        return self.journal.in_states(["finished"])

    def collect(self, entries: Iterable[BatchEntry]) -> Collected:
        """The rows of these entries' local output and error files, matched by custom_id (never by position)."""
        collected = Collected()
        for entry in entries:
            files = [self.journal.path(n) for n in (entry.output_file, entry.error_file) if n]
            seen = self._read_rows_of(set(entry.custom_ids), files, collected)
            missing = set(entry.custom_ids) - seen
            if entry.status == "failed":
                reasons = "; ".join(entry.errors) or "no reason given"
                detail = f"batch {entry.batch_id} failed: {reasons}"
                collected.failures.update({cid: Failed(cid, "server_error", detail[:300]) for cid in missing})
            else:
                collected.not_run |= missing
            collected.entries.append(entry)
        self._finish_collect(collected)
        return collected

    def import_results(self, path: Path) -> Collected:
        """Rows of a results file a user brings (``vllm run-batch -o``), for the ``--batch-file-only`` entries."""
        entries = self.journal.in_states(["offline"])
        if not entries:
            raise CotgenError(
                f"{path}: no requests to match; write them first with --batch-file-only (RUN/batches/ holds none)"
            )
        if not path.is_file():
            raise CotgenError(f"{path}: no such results file (expected the output of vllm run-batch)")
        collected = Collected()
        seen = self._read_rows_of(set().union(*(e.custom_ids for e in entries)), [path], collected)
        collected.not_run |= {cid for e in entries for cid in e.custom_ids} - seen
        collected.entries.extend(entries)
        self._finish_collect(collected)
        return collected

    def _read_rows_of(self, ids: set[str], files: list[Path], collected: Collected) -> set[str]:
        """Take the rows of ``files`` for ``ids`` into ``collected``; the custom_ids that had a row."""
        secret = os.environ.get(self.config.api_key_env, "")  # a server may quote the key; never raise for it here
        seen: set[str] = set()
        for path in files:
            for custom_id, outcome in iter_result_rows(path):
                if custom_id not in ids:
                    collected.unmatched += 1
                elif custom_id in seen:
                    collected.duplicates += 1
                else:
                    seen.add(custom_id)
                    if outcome is None:
                        collected.not_run.add(custom_id)
                    elif isinstance(outcome, Answered):
                        collected.answers[custom_id] = outcome.completion
                    else:
                        collected.failures[custom_id] = replace(outcome, detail=scrub(outcome.detail, secret))
        return seen

    def _finish_collect(self, collected: Collected) -> None:
        """Settle requests seen in several batches (an answer wins over "not run") and digest the answered ones."""
        collected.not_run -= set(collected.answers) | set(collected.failures)
        for entry in collected.entries:
            for custom_id, body in iter_request_lines(self.journal.path(entry.input_file)):
                if custom_id in collected.answers:
                    collected.digests[custom_id] = body_digest(body)
        if collected.unmatched or collected.duplicates:
            logger.warning(
                "batch results: %d rows for requests not sent in these batches and %d repeated rows were ignored",
                collected.unmatched,
                collected.duplicates,
            )

    def mark_collected(self, entries: Iterable[BatchEntry]) -> None:
        """The caller has taken these entries' rows over durably: never read them again."""
        for entry in entries:
            entry.state = "collected"
            self.journal.save(entry)

    # ------------------------------------------------------------------ rounds

    def run_rounds(self, step: Step, mode: BatchMode = "online", results: Path | None = None) -> RoundsReport:
        """Round after round until ``step`` adds no request, or the rounds must stop for a rerun.

        Each round: finish what is unfinished (``online``: submit, reattach and poll every batch of
        the run folder to its end; ``results``: import the results file, first round only), give
        the rows to ``step`` — which must take them over durably, ``add`` the requests that still
        need an answer, and return the custom_ids of rows it cannot use yet (of items outside this
        run's selection, say) — mark the batches whose rows were all taken over collected (the
        others are read again by the next run, so no paid answer is lost), and record the added
        requests before submitting them. A request already in an unfinished batch is not added
        again. Offline modes write the requests to a file and stop; online rounds also stop
        (recording nothing to submit) when a batch this engine submitted was cancelled, or when no
        batch of the last round returned a row.
        """
        online = mode == "online"
        report = RoundsReport()
        submitted_last = False
        while True:
            collected = self._rows(mode, results, report.rounds)
            report.failed += len(collected.failures)
            report.not_run += len(collected.not_run)
            outstanding = self.outstanding() if online else set()
            writer = self.open_round(split=online)

            def add(request: BatchRequest, writer: ShardWriter = writer, outstanding: set[str] = outstanding) -> None:
                if request.custom_id not in outstanding:
                    writer.add(request)

            left = set(step(collected, add))
            self.mark_collected(e for e in collected.entries if left.isdisjoint(e.custom_ids))
            entries = self.record_round(writer, "written" if online else "offline")
            report.rounds += 1
            requests = sum(len(e.custom_ids) for e in entries)
            if not entries:
                return report
            if not online:
                report.files = [str(self.journal.path(e.input_file)) for e in entries]
                report.stopped = (
                    f"{requests} requests written for vllm run-batch; import its output with --batch-results"
                )
                return report
            cancelled = any(e.status == "cancelled" and self.is_own(e) for e in collected.entries)
            if cancelled or (submitted_last and collected.rows == 0):
                self.abandon(entries)
                why = "a batch was cancelled" if cancelled else "no batch of the last round returned a row (expired)"
                report.stopped = f"{why}: {requests} requests stay to do; rerun to send them again"
                return report
            if not self.settings.wait:
                self.submit_written()
                report.stopped = f"{requests} requests submitted without waiting; rerun to collect them"
                return report
            submitted_last = True

    def _rows(self, mode: BatchMode, results: Path | None, rounds: int) -> Collected:
        """The rows a round may use: of batches that just ended, or of the results file (first round only)."""
        if mode == "online":
            self.wait()
            return self.collect(self.finished())
        if mode == "results" and results is not None and rounds == 0:
            return self.import_results(results)
        return Collected()

    # ------------------------------------------------------------------ status and cancel

    def refresh(self) -> list[BatchEntry]:
        """Every entry, unfinished ones with the server's current status (for ``cotgen batch status``)."""
        entries = self.journal.entries()
        for entry in entries:
            if entry.state == "submitted":
                self._update(entry, self._retrieve(entry))
                self.journal.save(entry)
        return entries

    def cancel(self) -> list[BatchEntry]:
        """Cancel every unfinished batch; an entry never found on the server is abandoned (its requests freed).

        A cancelled batch still delivers what it finished; the next ``build --batch`` collects that and
        sends the rest again, so cancelling is "stop paying for now", not "forget".
        """
        touched = []
        for entry in self.journal.in_states(["written", "submitted"]):
            if entry.batch_id is None:
                found = self._find(entry)
                if found is None:
                    entry.state = "abandoned"
                    self.journal.save(entry)
                    touched.append(entry)
                    continue
                self._record_batch(entry, found)
            batch = self._retrieve(entry)
            if batch.get("status") not in TERMINAL_STATUSES and batch.get("status") != "cancelling":
                batch = self._call(
                    f"cancelling batch {entry.batch_id}",
                    lambda entry=entry: self.client.batches.cancel(entry.batch_id or "").model_dump(),
                )
            self._update(entry, batch)
            self.journal.save(entry)
            touched.append(entry)
        return touched

    def _retrieve(self, entry: BatchEntry) -> dict[str, Any]:
        return self._call(
            f"checking batch {entry.batch_id}",
            lambda: self.client.batches.retrieve(entry.batch_id or "").model_dump(),
        )


def engine_for_run(
    run_dir: Path, base_url: str | None = None, api_key_env: str | None = None, journal: Path | None = None
) -> BatchEngine:
    """The engine of a run folder's recorded batches, on the server they were sent to (``cotgen batch``).

    ``journal`` is another records folder than ``RUN/batches/`` (``predictions.batches/`` of a predict run).
    """
    folder = journal if journal is not None else run_dir / BATCHES_DIR
    entries = Journal(folder).entries()
    if not entries:
        raise CotgenError(f"{folder}: no batches recorded here (cotgen build --batch and predict --batch write them)")
    last = entries[-1]
    config = TeacherConfig(
        model=last.model, base_url=base_url or last.endpoint, api_key_env=api_key_env or last.api_key_env
    )
    return BatchEngine(config, run_dir, journal=folder)
