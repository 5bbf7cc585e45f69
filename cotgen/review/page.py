"""Writing the review page: ``index.html``, its script and styles, and the data as script files.

A page opened from ``file://`` may not ``fetch()`` the files beside it, but it may load them with
``<script src>``; so the data are JavaScript files that hand their JSON to the page. The table's columns
load with the page; each utterance's detail is in a chunk of :data:`CHUNK` utterances, loaded when one of
its rows is opened, so the page opens at the speed of the table alone. Chunks are written as they are
gathered, and the table last.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

import cotgen
from cotgen.core.durable_files import read_run_json
from cotgen.core.errors import CotgenError
from cotgen.core.owned_folder import replace_folder
from cotgen.core.run_lock import run_lock
from cotgen.export.audio_sources import MeasuredAudio
from cotgen.export.record_readers import RecordFile, load_run
from cotgen.records.review import REVIEW_FILE, VERDICTS
from cotgen.records.run_records import RejectRecord
from cotgen.records.trace import AMBIGUITY_LEVELS
from cotgen.review.audio import AudioLinks
from cotgen.review.gather import REJECTS, ReviewData, gather

CHUNK = 100
DATA_DIR = "data"
ASSETS = ("review.js", "review.css")


@dataclass(frozen=True)
class ReviewSummary:
    """What :func:`write_review` wrote, and the clips it could not link."""

    out_dir: Path
    index: Path
    utterances: int
    traces: int
    rejects: int
    pairs: int
    chunks: int
    audio_missing: int
    audio_copied: int
    audio_outside: list[str]  # clips outside the corpus root, not linked (--allow-outside-root links them)
    audio_unmeasured: int  # clips the features stage did not decode, not linked
    faithfulness_changed: int

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["out_dir"], data["index"] = str(self.out_dir), str(self.index)
        return data


def _call(function: str, *arguments: Any) -> str:
    """A script line calling ``function`` with JSON arguments (loaded by ``src``, never inlined in HTML)."""
    args = ",".join(json.dumps(a, ensure_ascii=False, separators=(",", ":")) for a in arguments)
    return f"{function}({args});\n"


def run_key(run_dir: Path) -> str:
    """Names the run's marks in the browser's storage, which every ``file://`` page shares."""
    return hashlib.sha256(str(run_dir.resolve()).encode()).hexdigest()[:16]


def _write_table(data: ReviewData, folder: Path) -> None:
    table = {
        "run": str(data.run_dir.resolve()),
        "run_key": run_key(data.run_dir),
        "corpus": data.corpus,
        "classes": data.classes,
        "chunk": CHUNK,
        "review_file": REVIEW_FILE,
        "utterances": data.utterances,
        "items": data.items,
    }
    (folder / "table.js").write_text(_call("cotgenTable", table), encoding="utf-8")


def _negatives(run_dir: Path) -> dict[str, dict[str, int]]:
    """The pairs summary's count per kind of negative (``run.json["pairs"]["by_kind"]``), gold left out."""
    pairs = read_run_json(run_dir).get("pairs")
    by_kind = pairs.get("by_kind") if isinstance(pairs, dict) else None
    if not isinstance(by_kind, dict):
        return {}
    return {kind: row for kind, row in sorted(by_kind.items()) if kind != "gold" and isinstance(row, dict)}


def _render_index(data: ReviewData) -> str:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("cotgen.review", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    reasons = sorted({r for r in data.items["reason"] if r is not None})
    return environment.get_template("index.html.j2").render(
        corpus=data.corpus,
        version=cotgen.__version__,
        counts=data.counts,
        negatives=_negatives(data.run_dir),
        reasons=reasons,
        ambiguity_levels=AMBIGUITY_LEVELS,
        verdicts=VERDICTS,
        review_file=REVIEW_FILE,
        assets=ASSETS,
    )


def write_review(
    run_dir: Path,
    out_dir: Path | None = None,
    copy_audio: bool = False,
    allow_outside_root: bool = False,
    force: bool = False,
) -> ReviewSummary:
    """Write the review page of a run into ``out_dir`` (default ``<run>/review/``), holding the run's lock.

    The lock keeps a build from rewriting ``traces.jsonl`` while the page reads it, so the page shows one run.
    The page folder is written whole beside the old one and swapped in (:mod:`cotgen.core.owned_folder`): a
    run that fails halfway, or is killed, leaves the last good page, and a folder holding files cotgen did not
    write is refused unless ``force`` (which keeps them).
    """
    with run_lock(run_dir, "cotgen review", create=False):
        return _write_review(run_dir, out_dir, copy_audio, allow_outside_root, force)


_PAGE_FILE = re.compile(r"index\.html|review\.js|review\.css|data/table\.js|data/detail/\d{5}\.js|audio/\d{6}_[^/]+")


def _review_own(folder: Path, name: str) -> bool:
    """Whether a file of a page folder written before ``.cotgen-files`` existed is one the page writes."""
    return bool(_PAGE_FILE.fullmatch(name))


def _write_review(
    run_dir: Path, out_dir: Path | None, copy_audio: bool, allow_outside_root: bool, force: bool
) -> ReviewSummary:
    out_dir = out_dir or run_dir / "review"
    run = load_run(run_dir)  # checks the run folder before anything is written
    if not run.traces and not RecordFile(run_dir / REJECTS, RejectRecord):
        raise CotgenError(f"{run_dir}: neither traces.jsonl nor rejects.jsonl holds a record (run `cotgen build`)")
    measured = MeasuredAudio.of_run(run_dir, allow_outside_root)

    def write(folder: Path) -> tuple[ReviewData, AudioLinks, int]:
        (folder / DATA_DIR / "detail").mkdir(parents=True)
        chunks = 0

        def write_chunk(number: int, details: list[dict[str, Any]]) -> None:
            nonlocal chunks
            script = _call("cotgenDetail", number, details)
            (folder / DATA_DIR / "detail" / f"{number:05d}.js").write_text(script, encoding="utf-8")
            chunks += 1

        # The folder is a sibling of out_dir: a clip's link relative to it is the same as relative to out_dir.
        audio = AudioLinks(folder, copy_audio, measured)
        data = gather(run, audio, CHUNK, write_chunk)
        _write_table(data, folder / DATA_DIR)
        assets = resources.files("cotgen.review") / "assets"
        for name in ASSETS:
            (folder / name).write_text((assets / name).read_text(encoding="utf-8"), encoding="utf-8")
        (folder / "index.html").write_text(_render_index(data), encoding="utf-8")
        return data, audio, chunks

    data, audio, chunks = replace_folder(out_dir, write, force=force, legacy_own=_review_own)
    index = out_dir / "index.html"
    return ReviewSummary(
        out_dir=out_dir,
        index=index,
        utterances=data.counts["utterances"],
        traces=data.counts["traces"],
        rejects=data.counts["rejects"],
        pairs=data.counts["pairs"],
        chunks=chunks,
        audio_missing=audio.missing,
        audio_copied=audio.copied,
        audio_outside=audio.outside,
        audio_unmeasured=audio.unmeasured,
        faithfulness_changed=data.faithfulness_changed,
    )
