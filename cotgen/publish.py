"""``cotgen publish``: upload a run (or an export of it) to a Hugging Face dataset repo.

Corpora such as IEMOCAP and MSP-Podcast forbid redistributing their audio, transcripts or labels,
so publishing is deliberate: the folder is validated and staged first (records re-read with their
models, audio paths made relative to the corpus folder, a fresh card), no audio leaves the machine
unless ``--include-audio`` says so, and a public repo of a corpus whose note does not declare
redistribution open needs ``--confirm-license``. The token comes from ``HF_TOKEN`` or the saved
login and never appears in output: Hub errors are re-raised with it redacted.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from huggingface_hub import HfApi, get_token
from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

import cotgen
from cotgen.core.durable_files import RUN_JSON, read_run_json
from cotgen.core.errors import CotgenError
from cotgen.core.id_index import IdIndex, IdIndexBuilder
from cotgen.core.jsonl import iter_json_lines, jsonl_writer
from cotgen.core.owned_folder import MANIFEST, is_cotgen_card, replace_folder, written_files
from cotgen.export.audio_sources import (
    ALLOW_OUTSIDE,
    OUTSIDE_DIR,
    OUTSIDE_ROOT,
    MeasuredAudio,
    looks_like_audio,
    refusal,
)
from cotgen.export.freshness import read_export_info, refuse_stale, stale_export, stale_files
from cotgen.export.messages import AUDIO_DIR
from cotgen.export.record_readers import UTTERANCES, RunData, load_run
from cotgen.export.splits import SPLITS
from cotgen.export.writer import EXPORT_INFO, export_mismatches, split_file_name
from cotgen.report.card import (
    CARD,
    LICENSE_FILE,
    PLOTS_DIR,
    RUN_CONFIG_FILES,
    corpus_note,
    is_restricted,
    license_fields,
    render_card,
)

logger = logging.getLogger(__name__)

STAGE_DIR = "publish"
LLAMAFACTORY_INFO = "dataset_info.json"


@dataclass
class PublishPlan:
    """What would be uploaded where: the staged folder, its files and the commit message."""

    repo_id: str
    private: bool
    include_audio: bool
    create_pr: bool
    stage_dir: Path
    files: list[str] = field(default_factory=list)
    commit_message: str = ""
    not_staged: dict[str, str] = field(default_factory=dict)  # audio paths not staged as audio, and why

    @property
    def card(self) -> str:
        """The staged dataset card's text."""
        return (self.stage_dir / CARD).read_text(encoding="utf-8")


def _export_source(folder: Path) -> tuple[Path, Path | None]:
    """(run folder, export folder or None): ``--in`` may name a run or an export made by ``cotgen export``."""
    info_path = folder / EXPORT_INFO
    if (folder / UTTERANCES).exists() or not info_path.exists():
        return folder, None
    info = json.loads(info_path.read_text(encoding="utf-8"))
    if info.get("audio") in ("relative", "copy"):
        # Publishing judges each clip by where it lies in the corpus root: a path relative to a trainer's working
        # folder, or a copy in the export, no longer says where the clip came from.
        raise CotgenError(
            f"{folder}: exported with --audio {info['audio']}; re-export with --audio absolute to publish"
        )
    return Path(info["run_dir"]), folder


def _record_files(run_dir: Path, export_dir: Path | None) -> list[Path]:
    if export_dir is None:  # the files the card gives a config each
        return [run_dir / n for n in RUN_CONFIG_FILES if (run_dir / n).exists()]
    kinds = ("sft", "dpo", "grpo")
    return [
        export_dir / split_file_name(k, s)
        for k in kinds
        for s in SPLITS
        if (export_dir / split_file_name(k, s)).exists()
    ]


def _audio_strings(value: Any) -> Iterator[str]:
    """Every audio path a record holds: ``audio`` fields (records and content parts) and ``audios`` lists."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "audio" and isinstance(item, str):
                yield item
            elif key == "audios" and isinstance(item, list):
                yield from (a for a in item if isinstance(a, str))
            else:
                yield from _audio_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _audio_strings(item)


def _rewrite_audio(value: Any, relocate: Callable[[str], str]) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "audio" and isinstance(item, str):
                out[key] = relocate(item)
            elif key == "audios" and isinstance(item, list):
                out[key] = [relocate(a) if isinstance(a, str) else a for a in item]
            else:
                out[key] = _rewrite_audio(item, relocate)
        return out
    if isinstance(value, list):
        return [_rewrite_audio(item, relocate) for item in value]
    return value


def _iter_rows(path: Path) -> Iterator[dict[str, Any]]:
    for _, row in iter_json_lines(path, "JSON object line"):
        yield row


@dataclass
class AudioRelocation:
    """Where each audio path of the staged records points, and which clips are copied.

    Paths become relative to the corpus root the run read (:mod:`cotgen.export.audio_sources`), so a user
    holding the corpus can join them back; with ``include_audio`` the measured clips are copied under
    ``audio/``. A path outside the root is refused unless ``--allow-outside-root``; a clip the features
    stage did not decode is never copied (its record keeps the relative path, without ``audio/``).
    """

    base: Path
    include_audio: bool
    measured: MeasuredAudio
    refused: dict[str, str] = field(default_factory=dict)  # resolved path -> why it is not staged as audio

    def __post_init__(self) -> None:
        # Records of one utterance sit close together (and in sft, dpo and grpo alike): a small cache of
        # resolved paths saves the file-system calls without holding one entry per utterance.
        self.source = lru_cache(maxsize=4096)(self._source)

    def _source(self, path: str) -> Path:
        return Path(os.path.realpath(path if os.path.isabs(path) else self.base / path))

    def see(self, path: str) -> None:
        """Judge one audio path (a first pass over the records); with ``include_audio`` its clip must exist."""
        source = self.source(path)
        problem = self.measured.problem(source)
        if problem is not None:
            self.refused[str(source)] = problem
        elif not self.measured.inside_root(str(source)):
            self.measured.staged_name(source)  # listed before anything is staged
        elif self.include_audio and not source.is_file():
            raise CotgenError(f"{path}: audio file not found (needed for --include-audio)")

    def outside(self) -> list[str]:
        """Paths refused for lying outside the corpus root (without ``--allow-outside-root``)."""
        return [path for path, why in self.refused.items() if why == OUTSIDE_ROOT]

    def copied(self, path: str) -> bool:
        """True when ``path``'s clip is staged under ``audio/``."""
        return self.include_audio and str(self.source(path)) not in self.refused

    def relocate(self, path: str) -> str:
        """The staged form of a path :meth:`see` has judged."""
        relative = self.measured.staged_name(self.source(path))
        return f"{AUDIO_DIR}/{relative}" if self.copied(path) else relative


def _run_ids(data: RunData) -> IdIndex:
    builder = IdIndexBuilder(np.int8)
    for utt in data.utterances:
        builder.add(utt.id, 0)
    return builder.build()


def validate_run(data: RunData) -> None:
    """What must hold before publishing: every record parses, joins an utterance, and there are records."""
    known = _run_ids(data)
    data.traces.validate()  # the card reads only the fields it reports
    for name, records in (("sft.jsonl", data.sft), ("dpo.jsonl", data.dpo), ("grpo.jsonl", data.grpo)):
        for index, record in enumerate(records, start=1):
            if known.position(record.id) is None:
                raise CotgenError(f"{data.run_dir / name}: record {index} ({record.id}) has no utterance")
    if not (data.sft or data.dpo or data.grpo):
        raise CotgenError(f"{data.run_dir}: no SFT, DPO or GRPO records to publish (run `cotgen build` first)")


def count_mismatches(info: dict[str, Any], data: RunData) -> list[str]:
    """Where ``run.json`` disagrees with the files (a stage rerun without the next one, a file edited by hand).

    Read defensively: a count another stage did not record, or recorded for another output file,
    is not compared. A file's count is its number of lines (:func:`validate_run` validates the records).
    """
    counts = info.get("counts") if isinstance(info.get("counts"), dict) else {}
    pairs = info.get("pairs") if isinstance(info.get("pairs"), dict) else {}
    grpo = info.get("grpo") if isinstance(info.get("grpo"), dict) else {}
    expected = [
        ("traces.jsonl", counts.get("traces"), len(data.traces)),
        ("sft.jsonl", counts.get("sft"), len(data.sft)),
        ("dpo.jsonl", pairs.get("pairs") if pairs.get("output") == "dpo.jsonl" else None, len(data.dpo)),
        ("grpo.jsonl", grpo.get("records") if grpo.get("output") == "grpo.jsonl" else None, len(data.grpo)),
    ]
    return [
        f"run.json records {recorded} lines for {name}, the file has {actual}"
        for name, recorded, actual in expected
        if isinstance(recorded, int) and recorded != actual
    ]


def check_license(note: dict[str, Any], corpus: str, private: bool, include_audio: bool, confirmed: bool) -> None:
    """Refuse a public repo (or uploaded audio) of a corpus not declared open, unless the user confirms."""
    open_corpus = str(note.get("redistribution", "")).strip().lower() == "open"
    if open_corpus or confirmed:
        return
    why = (
        f"the {corpus} licence ({note.get('license', 'unknown')}) restricts redistribution of its audio, "
        "transcripts and labels"
        if is_restricted(note)
        else f"no corpus note ({corpus}.md in corpora/) declares {corpus} free to redistribute"
    )
    if include_audio:
        raise CotgenError(f"--include-audio: {why}; pass --confirm-license if you hold the right to share the clips")
    if not private:
        raise CotgenError(f"public repo: {why}; pass --confirm-license if you may publish it, or use --private")


def _stage_records(files: list[Path], base: Path, target: Path, audio: AudioRelocation) -> None:
    """Copy the record files with audio paths made relative (and the measured clips too with ``include_audio``).

    Two streaming passes: the first judges every clip (so nothing is written when one lies outside the corpus
    root), the second writes each row as it is read, so no record file is ever held whole.
    """
    for path in files:
        for row in _iter_rows(path):
            for original in _audio_strings(row):
                audio.see(original)
    outside = audio.outside()
    if outside:
        raise CotgenError(refusal("publish", outside))
    for path in audio.measured.allowed_outside():
        logger.warning("%s: %s, staged because of %s", path, OUTSIDE_ROOT, ALLOW_OUTSIDE)
    for path in files:
        with (target / path.name).open("w", encoding="utf-8") as out:
            lines = jsonl_writer(out)
            for row in _iter_rows(path):
                lines.write(_rewrite_audio(row, audio.relocate))
                for original in _audio_strings(row):
                    if audio.copied(original):
                        destination = target / audio.relocate(original)
                        if not destination.exists():
                            destination.parent.mkdir(parents=True, exist_ok=True)
                            shutil.copyfile(audio.source(original), destination)


def _portable(value: Any, root: Path) -> Any:
    """A run.json value with every absolute path made relative to the corpus root, or cut to its last name:
    the machine's folder layout (home folder, user name) does not leave it."""
    if isinstance(value, dict):
        return {key: _portable(item, root) for key, item in value.items()}
    if isinstance(value, list):
        return [_portable(item, root) for item in value]
    if isinstance(value, str) and os.path.isabs(value) and "\n" not in value:
        path = Path(value)
        return path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
    return value


def _stage_extras(run_dir: Path, export_dir: Path | None, target: Path, root: Path) -> None:
    """Copy run.json (its paths made portable), the plots and (for LLaMA-Factory) dataset_info.json beside them."""
    extras = [*sorted((run_dir / PLOTS_DIR).glob("*.png"))]
    if export_dir is not None:
        extras.append(export_dir / LLAMAFACTORY_INFO)
    for extra in extras:
        if extra.exists():
            destination = target / (f"{PLOTS_DIR}/{extra.name}" if extra.suffix == ".png" else extra.name)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(extra, destination)
    if (run_dir / RUN_JSON).exists():
        info = _portable(read_run_json(run_dir), root)
        (target / RUN_JSON).write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _staged_own(folder: Path, name: str) -> bool:
    """Whether a file of a staging folder written before ``.cotgen-files`` existed is one staging writes."""
    top = name.split("/", 1)[0]
    if name == CARD:
        return is_cotgen_card(folder / name)
    return top in (AUDIO_DIR, PLOTS_DIR) or name in (RUN_JSON, LLAMAFACTORY_INFO) or name.endswith(".jsonl")


def stage(
    in_dir: Path,
    repo_id: str,
    private: bool = False,
    include_audio: bool = False,
    create_pr: bool = False,
    confirm_license: bool = False,
    stage_dir: Path | None = None,
    allow_stale: bool = False,
    allow_outside_root: bool = False,
    force: bool = False,
) -> PublishPlan:
    """Validate the folder and write what would be uploaded into ``stage_dir`` (default ``<run>/publish/``).

    A ``dpo.jsonl``/``grpo.jsonl`` or an export made from older traces than the run's is refused
    unless ``allow_stale`` (:mod:`cotgen.export.freshness`).
    """
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise CotgenError(f"--repo {repo_id!r}: expected USER/NAME")
    run_dir, export_dir = _export_source(in_dir)
    data = load_run(run_dir)
    validate_run(data)
    mismatches = count_mismatches(read_run_json(run_dir), data)
    if mismatches:
        raise CotgenError(f"{run_dir}: {mismatches[0]} (rerun the stage that writes it)")
    if export_dir is None:
        stale = stale_files(run_dir)
    else:
        mismatches = export_mismatches(export_dir)
        if mismatches:
            raise CotgenError(
                f"{export_dir}: its files do not match its {EXPORT_INFO} ({mismatches[0]}); "
                "run the export again before publishing it"
            )
        stale = stale_export(read_export_info(export_dir), export_dir, run_dir)
    refuse_stale(stale, allow_stale, "publish")
    note = corpus_note(data.corpus)
    check_license(note, data.corpus, private, include_audio, confirm_license)
    card = render_card(run_dir, export_dir, audio_included=include_audio, plots_prefix=f"{PLOTS_DIR}/", published=True)
    target = stage_dir or run_dir / STAGE_DIR
    audio = AudioRelocation(export_dir or run_dir, include_audio, MeasuredAudio.of_run(run_dir, allow_outside_root))

    def write(folder: Path) -> None:
        _stage_records(_record_files(run_dir, export_dir), export_dir or run_dir, folder, audio)
        _stage_extras(run_dir, export_dir, folder, audio.measured.root)
        (folder / CARD).write_text(card, encoding="utf-8")
        if license_fields(data.corpus, note).get("license_link") == LICENSE_FILE:
            (folder / LICENSE_FILE).write_text(license_text(data.corpus, note), encoding="utf-8")

    replace_folder(target, write, force=force, option="staging folder", legacy_own=_staged_own)
    staged = [name for name in written_files(target) if name != MANIFEST]
    kind = f"{json.loads((export_dir / EXPORT_INFO).read_text())['format']} export" if export_dir else "run"
    message = (
        f"cotgen {cotgen.__version__}: {data.corpus} {kind}, {len(data.utterances)} utterances"
        f"{', with audio' if include_audio else ', no audio'}"
    )
    return PublishPlan(repo_id, private, include_audio, create_pr, target, staged, message, dict(audio.refused))


def license_text(corpus: str, note: dict[str, Any]) -> str:
    """The ``LICENSE.md`` a card's ``license_link`` points to when the corpus note names no link of its own."""
    name = note.get("license_name") or "not stated"
    detail = note.get("redistribution_detail") or "No corpus note states the terms; ask the corpus's owner."
    return f"# Licence of the {corpus} data\n\n{name}.\n\n{detail}\n"


def listing(plan: PublishPlan) -> list[str]:
    """What would leave the machine, one line a file with its size; a staged clip that is not audio is flagged,
    and every audio path of the records that is not staged as audio is named with the reason."""
    lines = []
    for name in plan.files:
        path = plan.stage_dir / name
        clip = name.startswith((f"{AUDIO_DIR}/", f"{OUTSIDE_DIR}/"))
        flag = "  NOT AN AUDIO FILE" if clip and not looks_like_audio(path) else ""
        lines.append(f"{name} ({path.stat().st_size:,} bytes){flag}")
    lines += [f"not staged as audio: {path} ({why})" for path, why in sorted(plan.not_staged.items())]
    return lines


def resolve_token() -> str:
    """The Hub token: ``HF_TOKEN`` or the saved login (``hf auth login``)."""
    token = os.environ.get("HF_TOKEN") or get_token()
    if not token:
        raise CotgenError("no Hugging Face token: set HF_TOKEN or run `hf auth login`")
    return token


def upload(plan: PublishPlan, token: str, api: HfApi | None = None) -> str:
    """Create the dataset repo if needed and upload the staged folder in one commit; returns its URL."""
    hub = api or HfApi(token=token)
    try:
        hub.create_repo(plan.repo_id, repo_type="dataset", private=plan.private, exist_ok=True, token=token)
        info = hub.upload_folder(
            repo_id=plan.repo_id,
            repo_type="dataset",
            folder_path=plan.stage_dir,
            commit_message=plan.commit_message,
            create_pr=plan.create_pr,
            ignore_patterns=[MANIFEST],
            token=token,
        )
    except (HfHubHTTPError, OfflineModeIsEnabled) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CotgenError(f"Hub upload to {plan.repo_id} failed: {first.replace(token, '***')}") from None
    return str(info.pr_url or info.commit_url)
