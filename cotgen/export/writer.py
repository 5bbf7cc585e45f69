"""``cotgen export``: a run folder's SFT, DPO and GRPO records as one trainer's split files.

Writes ``{sft,dpo,grpo}_{train,validation,test}.jsonl`` into the export folder (default
``<run>/export/<format>/``), plus ``dataset_info.json`` for LLaMA-Factory, ``export.json`` saying
how the export was made, and a dataset card; records the same summary under ``export`` in the
run's ``run.json``. Empty splits are not written (an empty JSONL does not load) and not registered.

With a protocol of several folds (``--split loso:all``, ``--split folds:N``) every fold is such an
export in its own folder ``fold_<name>/`` under the export folder, and ``folds.json`` beside them
lists the folds (docs/export-publish.md, "Folds").
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import IO, Any, Literal, TypeVar, cast, get_args

import jsonlines

from cotgen.build.state import traces_fingerprint
from cotgen.core.durable_files import read_run_json, update_run_json
from cotgen.core.errors import CotgenError
from cotgen.core.ids import id_line
from cotgen.core.jsonl import jsonl_writer
from cotgen.core.owned_folder import CARD, CARD_ASIDE, MANIFEST, is_cotgen_card, replace_folder, written_files
from cotgen.core.run_lock import run_lock
from cotgen.export import llamafactory, swift, trl
from cotgen.export.audio_sources import MeasuredAudio
from cotgen.export.freshness import EXPORT_INFO, refuse_stale, stale_files
from cotgen.export.messages import AUDIO_DIR, AudioMode, AudioPaths, MissingAudioError, RowContext
from cotgen.export.record_readers import RECORD_FILES, TRACES, RunData, load_run
from cotgen.export.review_marks import ReviewMarks, read_review
from cotgen.export.splits import (
    SPLITS,
    SplitAssignment,
    SplitSpec,
    assign_splits,
    default_split,
    fold_specs,
    is_all_folds,
    parse_split,
    protocol_description,
    split_warnings,
)
from cotgen.records.answer import AnswerContract, AnswerContractError, AnswerMode
from cotgen.records.label_layout import LabelLayout, candidate_words, check_tokenizer
from cotgen.records.measurements import TextStyle
from cotgen.records.run_records import DPORecord, GRPORecord, SFTRecord

ExportFormat = Literal["trl", "llamafactory", "swift"]
FORMATS: dict[str, ModuleType] = {"trl": trl, "llamafactory": llamafactory, "swift": swift}
# The trainers' own spellings of their names (LLaMA-Factory, ms-swift), accepted in any case.
FORMAT_ALIASES: dict[str, str] = {"llama-factory": "llamafactory", "llama_factory": "llamafactory", "ms-swift": "swift"}


def canonical_format(name: str) -> str:
    """``LLaMA-Factory`` -> ``llamafactory``, ``ms-swift`` -> ``swift``, ``TRL`` -> ``trl``; others unchanged."""
    key = name.strip().lower()
    return FORMAT_ALIASES.get(key, key)


FOLDS_INFO = "folds.json"
FOLD_PREFIX = "fold_"
IDS_SUFFIX = ".ids"
logger = logging.getLogger(__name__)
R = TypeVar("R")
Row = dict[str, Any]


@dataclass
class ExportResult:
    """What an export wrote (file name -> rows) and what it skipped (reason -> records).

    Reasons: ``missing_audio`` (the clip is not on disk, so no trainer could load the row) and
    ``identical_pair`` (a DPO pair whose chosen and rejected texts read the same).
    """

    format: str
    out_dir: Path
    run_dir: Path
    split: str
    answer: str
    audio: str
    label_words: dict[str, str] | None = None  # code -> word of the label line (``answer`` label), else None
    # The label words' single tokens for the student's tokenizer (``--tokenizer``), else None.
    label_layout: dict[str, Any] | None = None
    description: str = ""  # the split protocol in words (splits.protocol_description)
    files: dict[str, int] = field(default_factory=dict)
    utterances_per_split: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    review: dict[str, Any] | None = None  # what review.jsonl marked and left out (export_run's ``review``)
    shared_speakers: int = 0  # speakers in several splits (only a speaker-sharing corpus's published split)
    traces_fingerprint: str | None = None  # of the run's traces.jsonl when exported (cotgen.export.freshness)
    stale_inputs: list[str] = field(default_factory=list)  # derived files exported anyway with --allow-stale
    # What the user must hear about the result: a split far from its share or empty, a kind with no file and why.
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (for export.json and run.json)."""
        data = asdict(self)
        data["out_dir"] = str(self.out_dir)
        data["run_dir"] = str(self.run_dir)
        return data


def split_file_name(kind: str, split: str) -> str:
    """``sft_train.jsonl`` and so on."""
    return f"{kind}_{split}.jsonl"


class SplitFiles:
    """The split files of one record kind, each written as its rows arrive (temporary file + rename).

    A file is opened at its first row, so an empty split leaves no file (an empty JSONL does not
    load); :meth:`commit` renames the finished files into place, and leaving the ``with`` block on
    an exception removes the temporary files instead, so a failed export leaves no half file.
    """

    def __init__(self, out_dir: Path, kind: str) -> None:
        self.out_dir = out_dir
        self.kind = kind
        self.rows: dict[str, int] = {}
        self._handles: dict[str, IO[str]] = {}
        self._lines: dict[str, jsonlines.Writer] = {}

    def _tmp(self, split: str) -> Path:
        name = split_file_name(self.kind, split)
        return self.out_dir / f"{name}.tmp"

    def write(self, split: str, row: Row) -> None:
        """Append ``row`` to the split's file."""
        handle = self._handles.get(split)
        if handle is None:
            handle = self._handles[split] = self._tmp(split).open("w", encoding="utf-8")
            self._lines[split] = jsonl_writer(handle)
            self.rows[split] = 0
        self._lines[split].write(row)
        self.rows[split] += 1

    def _close(self) -> None:
        for handle in self._handles.values():
            handle.close()

    def commit(self) -> dict[str, int]:
        """Move every written file into place; returns split -> rows for the splits written, in split order."""
        self._close()
        written = {}
        for split in SPLITS:
            if split in self.rows:
                self._tmp(split).replace(self.out_dir / split_file_name(self.kind, split))
                written[split] = self.rows[split]
        return written

    def __enter__(self) -> SplitFiles:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self._close()
        if exc_type is not None:
            for split in self._handles:
                self._tmp(split).unlink(missing_ok=True)


def _write_kind(
    records: Iterable[SFTRecord | DPORecord | GRPORecord],
    build: Callable[[Any, RowContext, str], Row | None],
    ctx: RowContext,
    assignment: SplitAssignment,
    source: Path,
    files: SplitFiles,
) -> Counter[str]:
    """Stream one record file's rows into its split files; returns skipped records per reason."""
    skipped: Counter[str] = Counter()
    for index, record in enumerate(records, start=1):
        record_id = record.id
        split = assignment.get(record_id)
        if split is None:
            raise CotgenError(f"{source}: record {index} ({record_id}) has no utterance in utterances.jsonl")
        try:
            row = build(record, ctx, f"{source} record {index} ({record_id})")
        except MissingAudioError as exc:
            logger.warning("skipped %s record %d: %s", source.name, index, exc)
            skipped[exc.reason] += 1
            continue
        if row is None:
            skipped["identical_pair"] += 1
        else:
            files.write(split, row)
    return skipped


@dataclass
class FoldsResult:
    """What an export of every fold wrote: one :class:`ExportResult` per fold folder, in fold order."""

    format: str
    out_dir: Path
    run_dir: Path
    protocol: str
    description: str = ""  # the protocol in words, e.g. "5 folds, leave one session out: ..."
    folds: dict[str, ExportResult] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (``folds.json`` and run.json): the protocol and each fold's export summary."""
        return {
            "format": self.format,
            "out_dir": str(self.out_dir),
            "run_dir": str(self.run_dir),
            "protocol": self.protocol,
            "description": self.description,
            "folds": [{"name": name, "dir": name, **result.summary()} for name, result in self.folds.items()],
        }


def _remove_stale(out_dir: Path) -> None:
    """Drop split files of an earlier export, so a split that is empty now does not linger."""
    for kind in ("sft", "dpo", "grpo"):
        for split in SPLITS:
            (out_dir / split_file_name(kind, split)).unlink(missing_ok=True)
    (out_dir / llamafactory.DATASET_INFO).unlink(missing_ok=True)


def ids_file_name(split: str) -> str:
    """``test.ids`` and so on: the ids of one split of a fold, one a line."""
    return f"{split}{IDS_SUFFIX}"


def export_mismatches(export_dir: Path) -> list[str]:
    """Where an export folder's files differ from what its ``export.json`` recorded (``files``: SHA-256 by name).

    A file changed, missing or added since the export (an export killed before this check existed, a hand
    edit, files of two exports mixed) makes the export something no ``export.json`` describes.
    """
    info = json.loads((export_dir / EXPORT_INFO).read_text(encoding="utf-8"))
    recorded = info.get("files")
    if not isinstance(recorded, dict):
        return [f"{EXPORT_INFO} records no file digests (an export made before they were recorded)"]
    actual = file_digests(export_dir)
    problems = [f"{name} is missing" for name in sorted(set(recorded) - set(actual))]
    problems += [f"{name} is not part of the export" for name in sorted(set(actual) - set(recorded))]
    problems += [f"{name} changed" for name in sorted(set(recorded) & set(actual)) if recorded[name] != actual[name]]
    return problems


def _write_ids(out_dir: Path, data: RunData, assignment: SplitAssignment) -> None:
    """Each split's utterance ids in corpus order, one per line (every split named, even an empty one)."""
    handles = {split: (out_dir / ids_file_name(split)).open("w", encoding="utf-8", newline="\n") for split in SPLITS}
    try:
        for utt in data.utterances:
            handles[assignment[utt.id]].write(id_line(utt.id))
    finally:
        for handle in handles.values():
            handle.close()


def _remove_stale_folds(out_dir: Path, keep: set[str]) -> None:
    """Drop fold folders of an earlier export that this one does not write (only folders an export made)."""
    for folder in out_dir.glob(f"{FOLD_PREFIX}*"):
        if folder.is_dir() and folder.name not in keep and (folder / EXPORT_INFO).is_file():
            shutil.rmtree(folder)


def export_run(
    run_dir: Path,
    fmt: ExportFormat,
    split: str | None = None,
    seed: int = 0,
    answer: AnswerMode = "text",
    audio: AudioMode = "absolute",
    out_dir: Path | None = None,
    review: Path | None = None,
    allow_stale: bool = False,
    label_words: Mapping[str, str] | None = None,
    tokenizer: Path | None = None,
    force: bool = False,
) -> ExportResult:
    """Export a run for one trainer; see the module docstring for what is written.

    With ``review`` (a ``review.jsonl`` from ``cotgen review``), rejected traces and the records carrying them
    are left out (:mod:`cotgen.export.review_marks`). A ``dpo.jsonl`` or ``grpo.jsonl`` made from older
    traces is refused unless ``allow_stale`` (:mod:`cotgen.export.freshness`); the run folder is locked
    while the export writes. ``label_words`` (code -> word) is the label line's vocabulary in ``label`` mode
    (default: the class codes; :mod:`cotgen.records.answer`). With ``tokenizer`` (a student's tokenizer folder)
    the words are checked to be single, distinct tokens where the label line writes them, replaced where they
    are not (:mod:`cotgen.records.label_layout`), and the layout is recorded in ``export.json``.
    """
    fmt = cast(ExportFormat, canonical_format(fmt))
    module = _checked_format(fmt, answer, audio)
    contract = _contract(answer, label_words)
    with run_lock(run_dir, "cotgen export"):
        refuse_stale(stale_files(run_dir, module.KINDS), allow_stale, "export")
        data = load_run(run_dir)
        contract, layout = _laid_out(contract, label_words, tokenizer, data.classes)
        marks = read_review(review, run_dir / TRACES) if review is not None else None
        out = out_dir or run_dir / "export" / fmt
        result = _into_place(
            out, force, lambda tmp: export_data(data, module, fmt, split, seed, contract, audio, tmp, marks, layout)
        )
        result.out_dir = out
        update_run_json(data.run_dir, "export", {**_previous_exports(data.run_dir), fmt: result.summary()})
        return result


def export_folds(
    run_dir: Path,
    fmt: ExportFormat,
    split: str,
    answer: AnswerMode = "text",
    audio: AudioMode = "absolute",
    out_dir: Path | None = None,
    review: Path | None = None,
    allow_stale: bool = False,
    seed: int = 0,
    label_words: Mapping[str, str] | None = None,
    tokenizer: Path | None = None,
    force: bool = False,
) -> FoldsResult:
    """Export every fold of ``loso:all`` or ``folds:N``, each into ``<out>/fold_<name>/``, plus ``folds.json``.

    Each fold folder holds exactly what a one-split export writes (split files, ``export.json``,
    LLaMA-Factory's ``dataset_info.json``). Split files a one-split export left at the top of the
    folder, and fold folders of an earlier protocol that this one lacks, are removed so no reader
    mistakes them for this protocol's. ``review`` leaves out rejected traces in every fold, and stale inputs
    and the lock are as in :func:`export_run`; ``seed`` draws the validation speakers of ``+val:S``.
    """
    fmt = cast(ExportFormat, canonical_format(fmt))
    module = _checked_format(fmt, answer, audio)
    contract = _contract(answer, label_words)
    with run_lock(run_dir, "cotgen export"):
        refuse_stale(stale_files(run_dir, module.KINDS), allow_stale, "export")
        labels = (label_words, tokenizer)
        out = out_dir or run_dir / "export" / fmt
        result = _into_place(
            out,
            force,
            lambda tmp: _export_folds(run_dir, module, fmt, split, seed, contract, audio, tmp, review, labels),
        )
        result.out_dir = out
        for name, fold in result.folds.items():
            fold.out_dir = out / name
        update_run_json(run_dir, "export", {**_previous_exports(run_dir), fmt: result.summary()})
        return result


_EXPORT_FILE = re.compile(r"(sft|dpo|grpo)_(train|validation|test)\.jsonl|(train|validation|test)\.ids")


def _export_own(folder: Path, name: str) -> bool:
    """Whether a file of an export folder written before ``.cotgen-files`` existed is one an export writes."""
    if name.startswith(FOLD_PREFIX) and "/" in name:
        fold, _, name = name.partition("/")
        folder = folder / fold
    if name == CARD:
        return is_cotgen_card(folder / name)
    return bool(
        _EXPORT_FILE.fullmatch(name)
        or name in (EXPORT_INFO, FOLDS_INFO, llamafactory.DATASET_INFO)
        or (name.startswith(f"{AUDIO_DIR}/") and name.count("/") == 1)
    )


def _into_place(out: Path, force: bool, write: Callable[[Path], R]) -> R:
    """Write an export into a temporary sibling of ``out`` and swap it in whole (:mod:`cotgen.core.owned_folder`).

    Before the swap the temporary folder's name is replaced by ``out`` in the JSON files written, and every
    ``export.json`` records the SHA-256 of each file of its export (``files``), which publish checks.
    """

    def sealed(tmp: Path) -> R:
        result = write(tmp)
        for info in sorted(tmp.rglob("*.json")):
            text = info.read_text(encoding="utf-8")
            info.write_text(text.replace(json.dumps(str(tmp))[1:-1], json.dumps(str(out))[1:-1]), encoding="utf-8")
        for info in sorted(tmp.rglob(EXPORT_INFO)):
            summary = json.loads(info.read_text(encoding="utf-8"))
            summary["files"] = file_digests(info.parent)
            info.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        return result

    return replace_folder(out, sealed, force=force, legacy_own=_export_own)


def file_digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file of one export folder (``export.json`` and the manifest left out), by relative name."""
    digests = {}
    for name in written_files(folder):
        if name not in (EXPORT_INFO, MANIFEST, CARD, CARD_ASIDE):
            with (folder / name).open("rb") as handle:  # streamed: a split file can be larger than memory wants
                digests[name] = hashlib.file_digest(handle, "sha256").hexdigest()
    return digests


def _export_folds(
    run_dir: Path,
    module: ModuleType,
    fmt: ExportFormat,
    split: str,
    seed: int,
    answer: AnswerContract,
    audio: AudioMode,
    out_dir: Path | None,
    review: Path | None,
    labels: tuple[Mapping[str, str] | None, Path | None] = (None, None),
) -> FoldsResult:
    data = load_run(run_dir)
    answer, layout = _laid_out(answer, labels[0], labels[1], data.classes)
    marks = read_review(review, run_dir / TRACES) if review is not None else None
    _check_kinds(data, module)
    out = out_dir or run_dir / "export" / fmt
    specs = fold_specs(data.utterances, split, seed)
    out.mkdir(parents=True, exist_ok=True)
    if (out / EXPORT_INFO).is_file():  # a one-split export lived here: its files would read as a fold
        _remove_stale(out)
        (out / EXPORT_INFO).unlink()
        shutil.rmtree(out / AUDIO_DIR, ignore_errors=True)
    _remove_stale_folds(out, {name for name, _ in specs})
    result = FoldsResult(
        format=fmt,
        out_dir=out,
        run_dir=data.run_dir,
        protocol=split.strip(),
        description=protocol_description(data.utterances, specs[0][1], every=True),
    )
    for name, spec in specs:
        result.folds[name] = _write_split(
            data, module, fmt, spec, answer, audio, out / name, write_ids=True, review=marks, layout=layout
        )
    (out / FOLDS_INFO).write_text(json.dumps(result.summary(), indent=2) + "\n", encoding="utf-8")
    return result


def _checked_format(fmt: str, answer: str, audio: str) -> ModuleType:
    """The format's module, once the three choices are known values (the error names the option)."""
    for option, value, allowed in (
        ("--format", fmt, tuple(FORMATS)),
        ("--answer", answer, get_args(AnswerMode)),
        ("--audio", audio, get_args(AudioMode)),
    ):
        if value not in allowed:
            raise CotgenError(f"{option} {value!r}: expected one of {', '.join(allowed)}")
    return FORMATS[fmt]


def _label_words(contract: AnswerContract, classes: list[str]) -> dict[str, str] | None:
    """The label line's word for every class of the run (label mode), refused when the vocabulary misses one."""
    if not contract.requires_label:
        return None
    try:
        return contract.words(classes)
    except AnswerContractError as exc:
        raise CotgenError(f"--answer label: {exc}") from None


def _laid_out(
    contract: AnswerContract, label_words: Mapping[str, str] | None, tokenizer: Path | None, classes: list[str]
) -> tuple[AnswerContract, LabelLayout | None]:
    """The contract with label words that are single, distinct tokens of ``tokenizer``, and that layout.

    Words the user gave are tried first for their classes, then the defaults (:func:`candidate_words`).
    """
    if tokenizer is None:
        return contract, None
    if not contract.requires_label:
        raise CotgenError("--tokenizer checks the label line's tokens: give it with --answer label")
    given = dict(label_words or {})
    candidates = {
        code: list(dict.fromkeys([*([given[code]] if code in given else []), *candidate_words(code)]))
        for code in classes
    }
    layout = check_tokenizer(tokenizer, classes, candidates)
    for code, why in layout.replaced.items():
        logger.warning("label of %s: %s; using %r", code, why, layout.words[code])
    return _contract("label", layout.words), layout


def _contract(answer: AnswerMode, label_words: Mapping[str, str] | None) -> AnswerContract:
    """The answer contract of an export; a bad label vocabulary is the user's error, named as such."""
    if label_words is not None and answer != "label":
        raise CotgenError("label words were given, but they only apply to --answer label")
    try:
        return AnswerContract(mode=answer, label_words=label_words)
    except AnswerContractError as exc:
        raise CotgenError(f"--answer label: {exc}") from None


def _check_kinds(data: RunData, module: ModuleType) -> None:
    if not any(getattr(data, kind) for kind in module.KINDS):
        names = ", ".join(f"{kind}.jsonl" for kind in module.KINDS)
        raise CotgenError(f"{data.run_dir}: none of {names} holds a record (run `cotgen build` / `cotgen pairs`)")


def export_data(
    data: RunData,
    module: ModuleType,
    fmt: str,
    split: str | None,
    seed: int,
    answer: AnswerContract,
    audio: AudioMode,
    out_dir: Path,
    review: ReviewMarks | None = None,
    layout: LabelLayout | None = None,
) -> ExportResult:
    """Export an opened run with one format module into ``out_dir`` (the body of :func:`export_run`, which
    records it in run.json once it is in place).

    Records stream from the run's files to the split files one at a time; what is held is the
    split of each utterance id (:class:`~cotgen.export.splits.SplitAssignment`), never the records.
    """
    _check_kinds(data, module)
    text = split or default_split(data.corpus)
    if is_all_folds(text):
        raise CotgenError(f"--split {text}: several folds are exported with export_folds (cotgen export does this)")
    spec = parse_split(text, seed)
    return _write_split(data, module, fmt, spec, answer, audio, out_dir, review=review, layout=layout)


def _write_split(
    data: RunData,
    module: ModuleType,
    fmt: str,
    spec: SplitSpec,
    answer: AnswerContract,
    audio: AudioMode,
    out_dir: Path,
    write_ids: bool = False,
    review: ReviewMarks | None = None,
    layout: LabelLayout | None = None,
) -> ExportResult:
    """One split assignment's files, ``dataset_info.json`` and ``export.json`` in ``out_dir`` (run.json untouched).

    With ``write_ids`` also ``{train,validation,test}.ids``: every utterance of each split, one id a line,
    whether or not it has a record (an utterance whose gold trace was rejected has no SFT row, and is
    still to be predicted and scored).
    """
    assignment = assign_splits(data.utterances, spec, data.corpus)
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale(out_dir)
    relative_to = out_dir if module is llamafactory else Path.cwd()
    order = TextStyle.of_run(read_run_json(data.run_dir).get("config")).order
    ctx = RowContext(
        # Only clips measured as audio under the corpus root are copied (cotgen.export.audio_sources).
        audio=AudioPaths(
            mode=audio,
            out_dir=out_dir,
            relative_to=relative_to,
            measured=MeasuredAudio.of_run(data.run_dir) if audio == "copy" else None,
        ),
        contract=answer,
        order=order,
    )
    result = ExportResult(
        format=fmt,
        out_dir=out_dir,
        run_dir=data.run_dir,
        split=spec.describe(),
        answer=answer.mode,
        label_words=_label_words(answer, data.classes),
        label_layout=layout.model_dump() if layout is not None else None,
        audio=audio,
        description=protocol_description(data.utterances, spec),
        traces_fingerprint=traces_fingerprint(data.run_dir),
        stale_inputs=[f.path.name for f in stale_files(data.run_dir, module.KINDS)],
    )
    result.utterances_per_split = assignment.sizes()
    result.shared_speakers = assignment.shared_speakers
    result.warnings = split_warnings(spec, result.utterances_per_split)
    if write_ids:
        _write_ids(out_dir, data, assignment)
    registry: dict[str, Any] = {}
    for kind, file_name in zip(("sft", "dpo", "grpo"), RECORD_FILES):
        if kind not in module.KINDS:
            continue
        records = getattr(data, kind)
        if review is not None:
            records = review.keep(kind, records)
        with SplitFiles(out_dir, kind) as files:
            skipped = _write_kind(
                records, getattr(module, f"{kind}_row"), ctx, assignment, data.run_dir / file_name, files
            )
            written = files.commit()
        for reason, n in skipped.items():
            result.skipped[reason] = result.skipped.get(reason, 0) + n
        for split_name, rows in written.items():
            name = split_file_name(kind, split_name)
            result.files[name] = rows
            registry[llamafactory.dataset_name(kind, split_name)] = llamafactory.dataset_entry(kind, name)
        if not written:
            result.warnings.append(_not_written(kind, data.run_dir / file_name, skipped))
    if review is not None:
        result.review = review.summary()
    for warning in result.warnings:
        logger.warning("export to %s: %s", out_dir, warning)
    if module is llamafactory:
        info = json.dumps(registry, indent=2, ensure_ascii=False) + "\n"
        (out_dir / llamafactory.DATASET_INFO).write_text(info, encoding="utf-8")
    (out_dir / EXPORT_INFO).write_text(json.dumps(result.summary(), indent=2) + "\n", encoding="utf-8")
    return result


# The command that writes each record file, for the line saying why an export has none of its rows.
_MADE_BY = {"sft": "cotgen build", "dpo": "cotgen pairs", "grpo": "cotgen grpo"}


def _not_written(kind: str, source: Path, skipped: Mapping[str, int]) -> str:
    """Why an export wrote no ``<kind>_*.jsonl``: the run has no such records, or every one was skipped."""
    if skipped:
        reasons = ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in skipped.items())
        return f"no {kind} file written: every record of {source.name} was skipped ({reasons})"
    if not source.exists():
        return f"no {kind} file written: the run has no {source.name} (run `{_MADE_BY[kind]}` first)"
    return f"no {kind} file written: {source.name} holds no record"


def _previous_exports(run_dir: Path) -> dict[str, Any]:
    previous = read_run_json(run_dir).get("export")
    return previous if isinstance(previous, dict) else {}
