"""The Hub dataset card (``README.md``) of a run or of an export.

A dataset on the Hub explains itself through its card: YAML metadata the Hub indexes (licence,
language, task, size, and ``configs`` so ``load_dataset(repo, "sft")`` finds the files) and a body
saying how the data was made, what it contains, where it is weak and whom to cite. The licence and
its notice come from the corpus note (``corpora/<name>.md``), because the corpus's terms bind
every derivative. ``build`` writes the card; ``pairs``, ``grpo``, ``export`` and ``stats`` refresh it.
Its facts come from one streaming pass over each record file (:func:`gather_facts`), so writing it
at the end of a 100,000-utterance build holds running sums, not the run.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2
from huggingface_hub import DatasetCardData

import cotgen
from cotgen.core.durable_files import read_run_json
from cotgen.core.errors import CotgenError
from cotgen.core.labels import emotion_name
from cotgen.core.owned_folder import CARD, CARD_ASIDE, CARD_MARK, claim, is_cotgen_card
from cotgen.core.run_lock import run_lock
from cotgen.corpora.notes import corpus_note as read_corpus_note
from cotgen.export.freshness import EXPORT_INFO, stale_export, stale_files
from cotgen.export.record_readers import RECORD_FILES, TRACES, UTTERANCES, RecordFile, RunData, count_lines, load_run
from cotgen.export.splits import SPLITS
from cotgen.records.faithfulness_gate import DEFAULT_MIN_FAITHFULNESS, run_gate
from cotgen.records.measurements import TextStyle
from cotgen.records.prediction import PREDICTIONS_FILE
from cotgen.report.stats import RunStats, StatsAccumulator, TraceFigures
from cotgen.teachers.template import TEACHER_NAME as TEMPLATE_TEACHER

logger = logging.getLogger(__name__)

PLOTS_DIR = "plots"
# Tasks the Hub lists in its dataset filter (huggingface.js packages/tasks/src/pipelines.ts: audio-text-to-text is
# hideInDatasets, so a card naming it is found by no one): the labels are audio emotion classification, the traces
# and SFT/DPO/GRPO records text generation; audio-emotion-recognition is audio-classification's own subtask.
TASK_CATEGORIES = ["audio-classification", "text-generation"]
TASK_IDS = ["audio-emotion-recognition"]
TAGS = ["speech-emotion-recognition", "emotion", "chain-of-thought", "ambiguity", "soft-labels", "dpo", "grpo"]
COTGEN_CITATION = (
    "@software{cotgen,\n"
    "  title = {cotgen: chain-of-thought datasets for ambiguous speech-emotion reasoning},\n"
    f"  version = {{{cotgen.__version__}}},\n"
    "  license = {GPL-3.0-or-later}\n"
    "}"
)
_SIZE_BUCKETS = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))
# The figures ``cotgen stats`` draws, in the card's reading order (the order of the statistics they illustrate),
# with the caption each one gets.
PLOT_CAPTIONS: dict[str, str] = {
    "vote_mass": "Human vote mass per class: how the annotators' votes spread over the class set.",
    "entropy": "Entropy (bits) of the human distributions and of the traces' distributions: how ambiguous "
    "each finds the utterances.",
    "trace_js": "Jensen–Shannon divergence (bits) of each trace's distribution from the human one, gold and "
    "sampled traces.",
    "pair_margins": "DPO pair margins: how much worse the rejected answer scores than the chosen one.",
    "features_by_class": "Acoustic features of the utterances by majority class.",
}


def corpus_note(name: str) -> dict[str, Any]:
    """The corpus note's front matter (licence, redistribution, citation...); empty for a corpus without one."""
    try:
        return read_corpus_note(name)
    except CotgenError:
        return {}


def is_restricted(note: dict[str, Any]) -> bool:
    """Whether the corpus forbids redistributing its transcripts or labels (IEMOCAP, MSP-Podcast)."""
    return str(note.get("redistribution", "")).strip().lower() == "restricted"


def size_category(n: int) -> str:
    """The Hub's size bucket for ``n`` rows."""
    for limit, name in _SIZE_BUCKETS:
        if n < limit:
            return name
    return "n>1M"


# The run's JSONL files a published run carries, in the order their configs are listed; the first present is the
# default config, so `load_dataset(repo)` without a name gives the SFT records when there are any.
RUN_CONFIG_FILES: tuple[str, ...] = (*RECORD_FILES, TRACES, UTTERANCES, PREDICTIONS_FILE)
# When a corpus note names a licence "other" without a link, the published folder carries its terms in this file.
LICENSE_FILE = "LICENSE.md"


def _with_default(configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The configs with the first marked ``default: true``: a repo of several configs loads without a name."""
    return [{**config, "default": True} if i == 0 else config for i, config in enumerate(configs)]


def run_configs(run_dir: Path) -> list[dict[str, Any]]:
    """``configs`` for publishing a run folder: one per non-empty JSONL it uploads, one train split, a default."""
    configs = []
    for file_name in RUN_CONFIG_FILES:
        path = run_dir / file_name
        if path.exists() and path.stat().st_size > 0:
            configs.append(
                {"config_name": file_name.removesuffix(".jsonl"), "data_files": [{"split": "train", "path": file_name}]}
            )
    return _with_default(configs)


def export_configs(export_dir: Path) -> list[dict[str, Any]]:
    """``configs`` for publishing an export: per kind, the split files the export wrote; the first is the default."""
    configs = []
    for kind in ("sft", "dpo", "grpo"):
        files = [
            {"split": split, "path": f"{kind}_{split}.jsonl"}
            for split in SPLITS
            if (export_dir / f"{kind}_{split}.jsonl").exists()
        ]
        if files:
            configs.append({"config_name": kind, "data_files": files})
    return _with_default(configs)


def license_id(name: str) -> str:
    """A ``license_name`` the Hub takes (an id like ``my-license-1.0``) from a note's licence name in words."""
    slug = re.sub(r"[^a-z0-9.]+", "-", name.lower()).strip("-.")
    return slug[:64].rstrip("-.") or "other"


def license_fields(corpus: str, note: dict[str, Any]) -> dict[str, str]:
    """``license`` and, for ``other``, the ``license_name`` and ``license_link`` the Hub asks for with it.

    The link is the note's; a note without one (a user's own manifest corpus) links to :data:`LICENSE_FILE`,
    which publishing writes from the note's terms.
    """
    license = str(note.get("license") or "other")
    if license != "other":
        return {"license": license}
    return {
        "license": "other",
        "license_name": license_id(str(note.get("license_name") or f"{corpus}-licence")),
        "license_link": str(note.get("license_link") or LICENSE_FILE),
    }


def card_metadata(corpus: str, utterances: int, note: dict[str, Any], configs: list[dict[str, Any]]) -> DatasetCardData:
    """The YAML header: licence and language from the corpus note, task, tags, size and configs."""
    language = note.get("language") or "en"
    pretty = note.get("pretty_name") or corpus
    return DatasetCardData(
        **license_fields(corpus, note),
        language=language if isinstance(language, list) else [language],
        pretty_name=f"{pretty} — emotion reasoning traces (cotgen)",
        task_categories=TASK_CATEGORIES,
        task_ids=TASK_IDS,
        tags=[*TAGS, corpus],
        size_categories=[size_category(utterances)],
        configs=configs,
    )


def annotator_rule(info: dict[str, Any]) -> str:
    """How votes became distributions in this run, from the build config and corpus summary in run.json."""
    config = info.get("config") if isinstance(info.get("config"), dict) else {}
    corpus = info.get("corpus") if isinstance(info.get("corpus"), dict) else {}
    parts = [f"Class set option: `{config['classes']}`." if config.get("classes") else "Default class set."]
    if isinstance(config.get("self_eval"), bool):
        counted = "counted as votes" if config["self_eval"] else "not counted"
        parts.append(f"Speakers' self-evaluations (where the corpus has them): {counted}.")
    if isinstance(corpus.get("dropped"), int):
        parts.append(f"Corpus entries dropped (no in-set votes, missing audio...): {corpus['dropped']}.")
    parts += agreement_sentences(corpus)
    parts += out_of_set_sentences(corpus)
    return " ".join(parts)


def out_of_set_sentences(corpus: dict[str, Any]) -> list[str]:
    """How votes outside the class set were treated and what they weighed (run.json's corpus.out_of_set)."""
    found = corpus.get("out_of_set") if isinstance(corpus.get("out_of_set"), dict) else None
    if not found:
        return []
    treated = {
        "drop-votes": "left out and the remaining votes renormalised",
        "other": "kept as the class `oth` (other)",
        "drop-utterance": "a reason to drop the whole utterance",
    }.get(str(found.get("rule")), str(found.get("rule")))
    share = found.get("vote_mass_outside_share")
    shown = f"{share:.1%}" if isinstance(share, (int, float)) else "an unknown share"
    return [
        f"Votes outside the class set (`--out-of-set {found.get('rule')}`) were {treated}: {shown} of the vote mass; "
        f"{found.get('utterances_over_half_outside')} utterances lost more than half of theirs."
    ]


def gold_checks_note(info: dict[str, Any]) -> str:
    """What the build rejected for teaching the wrong thing (run.json's config and reject counts)."""
    config = info.get("config") if isinstance(info.get("config"), dict) else {}
    counts = info.get("counts") if isinstance(info.get("counts"), dict) else {}
    reasons = counts.get("reject_reasons") if isinstance(counts.get("reject_reasons"), dict) else {}
    rejected = {
        "leaks_target": "narrated the target (listeners, votes, the given numbers)",
        "inconsistent": "contradicted themselves (ambiguity, competing classes or evidence against the distribution)",
        "unfaithful": "cited cues off their measured levels",
    }
    parts = [f"{reasons.get(reason, 0)} {what}" for reason, what in rejected.items()]
    gates = (
        f"faithfulness gate {config.get('min_faithfulness')}, coherence gate {config.get('min_coherence')}"
        if "min_coherence" in config
        else "run made before the consistency and leak checks"
    )
    return f"traces rejected after one repair turn: {', '.join(parts)} ({gates})."


def pairs_note(info: dict[str, Any]) -> str | None:
    """Which kinds of negative the DPO pairs reject, how many of each were eligible, and what was dropped as
    inconsistent (``run.json["pairs"]``); None before ``cotgen pairs`` ran."""
    pairs = info.get("pairs") if isinstance(info.get("pairs"), dict) else None
    by_kind = pairs.get("by_kind") if pairs else None
    if not isinstance(by_kind, dict):
        return None
    rows = {kind: row for kind, row in sorted(by_kind.items()) if kind != "gold" and isinstance(row, dict)}
    rejected = ", ".join(
        f"{kind} {row.get('chosen', 0)} of {row.get('eligible', 0)} eligible" for kind, row in rows.items()
    )
    dropped = sum(int(row.get("inconsistent", 0)) for row in by_kind.values() if isinstance(row, dict))
    metric = f"metric {pairs.get('metric', 'kl')}, picked `{pairs.get('rejected_strategy', 'hardest')}`"
    return (
        f"rejected by kind: {rejected or 'none'} ({metric}); {dropped} candidates dropped as inconsistent with "
        f"themselves, {pairs.get('no_pair', {}).get('gold_inconsistent', 0)} utterances without a pair because "
        "their gold was."
    )


def grpo_note(info: dict[str, Any]) -> str | None:
    """What the GRPO rewards pay the gold traces and how many prompts carry measured cue levels (``run.json``)."""
    grpo = info.get("grpo") if isinstance(info.get("grpo"), dict) else None
    if not grpo:
        return None
    levels = (
        f"{grpo.get('with_cue_levels', 0)} of {grpo.get('records', 0)} prompts carry the clip's measured cue levels"
    )
    golds = grpo.get("gold_rewards") if isinstance(grpo.get("gold_rewards"), dict) else None
    if not golds or not golds.get("golds"):
        return f"{levels}."
    mean = golds.get("mean") or {}
    return (
        f"{levels}; the {golds['golds']} gold traces get reasoning reward {_fmt(mean.get('combined'))} on average "
        f"(lowest {_fmt(golds.get('lowest_combined'))}; ambiguity {_fmt(mean.get('ambiguity'))}, cue faithfulness "
        f"{_fmt(mean.get('faithfulness'))}, coherence {_fmt(mean.get('coherence'))})."
    )


def training_texts_note(info: dict[str, Any]) -> str:
    """What the training texts say and in which order they reason (run.json's config)."""
    config = info.get("config") if isinstance(info.get("config"), dict) else {}
    style = TextStyle.of_run(config)
    numbers = (
        "measured numbers kept as the teacher wrote them (`--keep-numbers`)"
        if style.keep_numbers
        else "cues in words relative to the reference used, measured numbers (Hz, dB, SD, z...) removed"
    )
    return f"{numbers}; reasoning order {' → '.join((*style.order, 'distribution'))}."


def agreement_sentences(corpus: dict[str, Any]) -> list[str]:
    """What the card says about annotator agreement, single labels and corpus notes (run.json's corpus section)."""
    parts = []
    agreement = corpus.get("agreement") if isinstance(corpus.get("agreement"), dict) else None
    if agreement is not None:
        alpha = agreement.get("krippendorff_alpha_nominal")
        if isinstance(alpha, (int, float)):
            per_class = agreement.get("per_class") if isinstance(agreement.get("per_class"), dict) else {}
            by_class = ", ".join(
                f"{code} {row['alpha']:.3f}" for code, row in per_class.items() if isinstance(row.get("alpha"), float)
            )
            parts.append(
                f"Annotator agreement: Krippendorff's alpha (nominal) {alpha:.3f} over {agreement.get('alpha_units')}"
                f" utterances{f' (per class: {by_class})' if by_class else ''}."
            )
        elif agreement.get("alpha_note"):
            parts.append(f"Krippendorff's alpha: not computed ({agreement['alpha_note']}).")
        entropy = agreement.get("mean_normalised_entropy")
        if isinstance(entropy, (int, float)):
            parts.append(f"Mean normalised entropy of the human distributions: {entropy:.3f} (0 unanimous, 1 uniform).")
    single = corpus.get("single_label")
    if isinstance(single, int) and single > 0:
        parts.append(
            f"**Single-label data**: {single} utterances carry one label each (one-hot distributions), so they say"
            " nothing about how ambiguous an utterance is; do not use them as ambiguity data."
        )
    notes = corpus.get("notes") if isinstance(corpus.get("notes"), dict) else {}
    parts += [f"{str(key).capitalize()}: {value}." for key, value in notes.items()]
    return parts


@dataclass
class RunFacts:
    """What the card says about a run's records, gathered in one streaming pass over each file."""

    stats: RunStats
    teachers: list[str]
    templates: list[tuple[str, str]]
    example: dict[str, Any] | None


def gather_facts(data: RunData, faithful_at: float = DEFAULT_MIN_FAITHFULNESS) -> RunFacts:
    """Statistics, teachers, templates and the example record, reading each record file once.

    The example is the first SFT record, shown with its utterance's transcript, which the pass
    over the utterances picks up on the way.
    """
    first = data.sft.first()
    acc = StatsAccumulator(faithful_at=faithful_at)
    transcript: str | None = None
    for utt in data.utterances:
        acc.add_utterance(utt)
        if first is not None and transcript is None and utt.id == first.id:
            transcript = utt.transcript
    teachers: set[str] = set()
    templates: set[tuple[str, str]] = set()
    for trace in RecordFile(data.traces.path, TraceFigures):
        acc.add_trace(trace)
        teachers.add(trace.teacher)
        templates.add((trace.template.name, trace.template.sha256))
    for pair in data.dpo:
        acc.add_pair(pair)
    example = None
    if first is not None:
        example = {
            "id": first.id,
            "transcript": transcript,
            "human_distribution": {k: round(v, 3) for k, v in first.distribution.items()},
            "answer": first.completion[0].get("content", "") if first.completion else "",
        }
    return RunFacts(
        stats=acc.result(sft=len(data.sft), grpo=len(data.grpo)),
        teachers=sorted(teachers),
        templates=sorted(templates),
        example=example,
    )


def _teachers(facts: RunFacts, info: dict[str, Any]) -> list[str]:
    if facts.teachers:
        return facts.teachers
    teacher = info.get("teacher")
    return [str(teacher)] if teacher else []


def teacher_line(teachers: list[str]) -> str:
    """Who wrote the traces, in words; the offline template teacher is named as rule-based, not a model.

    A reader must not mistake rule-generated traces for a model's reasoning: they show the format and the
    measured cues, and reach the human distribution because they are given it.
    """
    if not teachers:
        return "n/a"
    named = []
    for teacher in teachers:
        if teacher == TEMPLATE_TEACHER:
            named.append(
                f"`{teacher}`, cotgen's offline template teacher (no model): its traces are rule-generated from the "
                "measured acoustic cues, a word list over the transcript and, for gold traces, the human distribution"
            )
        else:
            named.append(f"`{teacher}`")
    return "; ".join(named)


def label_note(export: dict[str, Any] | None) -> str | None:
    """What the export's label line writes for each class, and the tokens a tokenizer check found (None: no line)."""
    if not export or not export.get("label_words"):
        return None
    layout = export.get("label_layout")
    if not layout:
        words = ", ".join(f"{code} → `{word}`" for code, word in export["label_words"].items())
        return f"`Label: WORD` with {words} (not checked against a tokenizer)."
    words = "; ".join(
        f"{code} → `{word}` (token id {layout['token_ids'][code]})" for code, word in layout["words"].items()
    )
    return (
        f"`Label: WORD`, each class's word one token of its own for the student's tokenizer (`{layout['tokenizer']}`, "
        f"tokenizer.json sha256 `{layout['tokenizer_sha256'][:12]}`): {words}."
    )


def audio_note(export: dict[str, Any] | None, published: bool, audio_included: bool) -> str:
    """What the ``audio`` fields of the records next to this card are, for the copy the card sits in.

    A run folder's records hold absolute paths; an export's hold what ``--audio`` made of them; a published copy
    holds paths relative to the corpus's audio folder (``publish`` rewrites them), or under ``audio/`` with the
    clips included.
    """
    if published:
        if audio_included:
            return "the clips are included under `audio/`; `audio` fields are paths relative to this folder."
        return (
            "not included; `audio` fields are paths relative to the corpus's audio folder, so join them to your own "
            "copy of the corpus (get it from its owners)."
        )
    mode = export.get("audio", "absolute") if export else "absolute"
    if mode == "copy":
        return "the clips are copied into `audio/` of this folder; `audio` fields are paths relative to it."
    if mode == "relative":
        where = "this folder" if export and export.get("format") == "llamafactory" else "the folder the export ran in"
        return f"not copied; `audio` fields are paths relative to {where}, where the trainer resolves them."
    made = "exported" if export else "built"
    return f"not copied; `audio` fields are absolute paths to the clips on the machine that {made} this folder."


def figures(plots: list[str]) -> list[tuple[str, str]]:
    """(name, caption) of the run's plots: the known ones in reading order, any other after them by name."""
    known = [(name, caption) for name, caption in PLOT_CAPTIONS.items() if name in plots]
    others = [(name, name.replace("_", " ").capitalize() + ".") for name in sorted(plots) if name not in PLOT_CAPTIONS]
    return known + others


def _json_text(value: Any) -> str:
    """JSON as a reader expects to see it: ``"I can't"``, not Jinja's HTML-safe ``"I can\\u0027t"``."""
    return json.dumps(value, ensure_ascii=False)


def _code_span(text: str) -> str:
    """``text`` as a Markdown code span, shown as written: a quoted ``<audio>`` is not taken for an HTML tag.

    The fence is one backtick longer than the longest run of backticks inside, as CommonMark allows.
    """
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


_ENVIRONMENT = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
_ENVIRONMENT.filters["json"] = _json_text
_ENVIRONMENT.filters["code"] = _code_span
_BODY = _ENVIRONMENT.from_string(
    """# {{ title }}

Chain-of-thought training data for **ambiguous speech-emotion reasoning**, made with
[cotgen](https://pypi.org/project/cotgen/) {{ version }} on {{ date }}. Each utterance of the
{{ corpus }} corpus has a teacher trace that reasons from acoustic cues to lexical cues to the
ambiguity of the utterance and ends in a probability distribution over emotions that matches how
the human annotators voted; DPO pairs and GRPO prompts are scored by divergence from the human distribution.
{% if rule_generated %}
**These traces are rule-generated** by cotgen's offline template teacher, not written by a model: they show the
trace format with faithful acoustic cues and are meant for trying the pipeline, not for training a reasoner.
{% endif %}
{% if notice %}> **Licence notice.** {{ notice }}

{% endif %}## How it was built

- Corpus: {{ corpus }}{% if note_license %} (licence: {{ note_license }}){% endif %}
- Classes: {{ classes }}
- Human distribution: each utterance's annotator votes over the class set, normalised to sum to 1
  (mean {{ mean_annotators }} annotators per utterance); the majority class is its argmax, none on a tie.
  {{ annotator_rule }}
- Teacher: {{ teacher }}
- Prompt templates: {{ templates }}
- Gold checks: {{ gold_checks }}
- Training texts: {{ training_texts }}
{% if pairs_note %}- DPO pairs: {{ pairs_note }}
{% endif %}{% if grpo_note %}- GRPO prompts: {{ grpo_note }}
{% endif %}- Divergences: KL(human ‖ trace) in nats with 1e-6 smoothing; Jensen–Shannon in bits, unsmoothed.
{% if export %}- Export: {{ export.format }} format, split `{{ export.split }}`, answers `{{ export.answer }}`,
  audio paths `{{ export.audio }}`.{% if export.description %}
- Split protocol: {{ export.description }}.{% endif %}
{% endif %}{% if label_note %}- Label line: {{ label_note }}
{% endif %}{% if export and export.review %}- Review: {{ export.review.reviewed }} traces reviewed by hand
  ({{ export.review.accept }} accepted, {{ export.review.reject }} rejected, {{ export.review.flag }} flagged);
  left out for the rejected: {{ export.review.left_out.sft }} SFT records, {{ export.review.left_out.dpo }} DPO
  pairs, {{ export.review.left_out.grpo_gold_trace }} GRPO gold traces.
{% endif %}- Audio: {{ audio_note }}

## Contents

| file | rows |
|---|---|
{% for name, rows in files %}| `{{ name }}` | {{ rows }} |
{% endfor %}
{% for file in stale %}**Stale:** {{ file.describe() }}.
{% endfor %}{% if export %}Utterances per split: {{ per_split }} (no speaker in two splits).
{% endif %}
## Statistics

| statistic | value |
|---|---|
| utterances | {{ stats.utterances }} |
| speakers | {{ stats.speakers }} |
| utterances without a majority (ties) | {{ stats.ties }} |
| mean human entropy (bits) | {{ fmt(stats.mean_human_entropy_bits) }} |
| traces (gold) | {{ stats.traces }} ({{ stats.gold_traces }}) |
| mean trace entropy (bits) | {{ fmt(stats.mean_trace_entropy_bits) }} |
| mean JS gold trace → human (bits) | {{ fmt(stats.mean_gold_js_bits) }} |
| mean JS sampled trace → human (bits) | {{ fmt(stats.mean_sample_js_bits) }} |
| mean faithfulness / share ≥ the gate, {{ stats.faithful_at }} | {{ fmt(stats.mean_faithfulness) }} /
{{- " " ~ fmt(stats.faithful_share) }} |
| mean coherence of cited cues and distribution | {{ fmt(stats.mean_coherence) }} |
| traces citing vocal events heard, not measured | {{ stats.traces_with_vocal_events }}{{ events }} |
| SFT / DPO / GRPO records | {{ stats.sft }} / {{ stats.dpo }} / {{ stats.grpo }} |
| mean DPO margin (rejected − chosen) | {{ fmt(stats.mean_pair_margin) }} |

Human vote mass per class: {{ vote_mass }}.
{% for name, caption in figures %}
![{{ caption }}]({{ plots_prefix }}{{ name }}.png)

*Figure {{ loop.index }}. {{ caption }}*
{% endfor %}
{% if example %}## Example

Transcript: {{ example.transcript | json | code }}; human distribution: {{ example.human_distribution | json | code }}.

```text
{{ example.answer }}
```
{% endif %}
## Limitations

- Annotator agreement: the human distribution is only as good as the votes behind it
  ({{ mean_annotators }} annotators per utterance on average, {{ stats.ties }} ties); votes outside the
  class set follow one rule, stated under *How it was built*.
{% if rule_generated %}- Rule-generated traces: the template teacher's wording is fixed and its lexical cues come from a
  word list, so the traces teach the format, not reasoning.
{% else %}- Teacher bias: gold traces rationalise a distribution the teacher was shown, so their cues are
  post-hoc explanations, and the teacher's own priors about emotion and speakers leak into them.
{% endif %}
- Faithfulness: a trace may cite acoustic cues the measurements do not support; the mean
  faithfulness is {{ fmt(stats.mean_faithfulness) }} and {{ fmt(stats.faithful_share) }} of the traces
  score at least {{ stats.faithful_at }}, the gate the build applied (`--min-faithfulness`).
- Acted or elicited speech does not represent emotion in the wild.

## Citation

{% if corpus_citation %}Corpus:

```bibtex
{{ corpus_citation }}
```

{% endif %}Method and tool:

```bibtex
{{ cotgen_citation }}
```
"""
)


def _file_rows(folder: Path, names: list[str]) -> list[tuple[str, int]]:
    return [(name, count_lines(folder / name)) for name in names if (folder / name).exists()]


def notice_for(note: dict[str, Any]) -> str | None:
    """The licence notice the card carries: the note's redistribution detail, or a warning when there is no note."""
    if not note:
        return "No corpus note states this corpus's licence; check its terms before sharing anything derived from it."
    detail = note.get("redistribution_detail")
    return str(detail).strip() if detail else None


def render_card(
    run_dir: Path,
    export_dir: Path | None = None,
    audio_included: bool = False,
    plots_prefix: str | None = None,
    published: bool = False,
) -> str:
    """The card's text for a run folder, or for an export of it when ``export_dir`` is given.

    ``plots_prefix`` is where the card links the run's PNGs from (default: the run's ``plots/`` seen
    from the card's folder; publishing copies them next to the card). ``published`` says the card goes with
    the copy ``publish`` stages, whose audio paths it rewrote (``audio_included``: with the clips).
    """
    data = load_run(run_dir)
    info = read_run_json(run_dir)
    note = corpus_note(data.corpus)
    facts = gather_facts(data, run_gate(info.get("config")))
    stats = facts.stats
    export = None
    if export_dir is not None:
        configs = export_configs(export_dir)
        export_info = export_dir / EXPORT_INFO
        export = json.loads(export_info.read_text(encoding="utf-8")) if export_info.exists() else None
        stale = stale_export(export, export_dir, run_dir) if export is not None else []
        files = _file_rows(export_dir, [d["path"] for c in configs for d in c["data_files"]])
        default_prefix = f"{Path(os.path.relpath(run_dir / PLOTS_DIR, export_dir)).as_posix()}/"
    else:
        configs = run_configs(run_dir)
        stale = stale_files(run_dir)
        files = _file_rows(run_dir, ["utterances.jsonl", "traces.jsonl", "rejects.jsonl", *RECORD_FILES])
        default_prefix = f"{PLOTS_DIR}/"
    plots = [p.stem for p in (run_dir / PLOTS_DIR).glob("*.png")]
    teachers = _teachers(facts, info)
    metadata = card_metadata(data.corpus, stats.utterances, note, configs)
    body = _BODY.render(
        title=metadata.pretty_name,
        version=cotgen.__version__,
        date=datetime.now(timezone.utc).date().isoformat(),
        corpus=data.corpus,
        notice=notice_for(note),
        note_license=note.get("license_name") or note.get("license"),
        classes=", ".join(f"`{c}` ({emotion_name(c)})" for c in data.classes),
        mean_annotators=_fmt(stats.mean_annotators, 1),
        annotator_rule=annotator_rule(info),
        gold_checks=gold_checks_note(info),
        events="".join(
            f" ({', '.join(f'{e} {n}' for e, n in stats.vocal_events.items())})" if stats.vocal_events else ""
        ),
        training_texts=training_texts_note(info),
        pairs_note=pairs_note(info),
        grpo_note=grpo_note(info),
        teacher=teacher_line(teachers),
        rule_generated=TEMPLATE_TEACHER in teachers,
        templates=", ".join(f"`{name}` (sha256 `{sha[:12]}`)" for name, sha in facts.templates) or "n/a",
        per_split=", ".join(f"{k} {v}" for k, v in (export or {}).get("utterances_per_split", {}).items()),
        vote_mass=", ".join(f"{code} {mass:.2f}" for code, mass in stats.class_vote_mass.items()),
        export=export,
        audio_note=audio_note(export, published, audio_included),
        label_note=label_note(export),
        files=files,
        stale=stale,
        stats=stats,
        fmt=_fmt,
        figures=figures(plots),
        plots_prefix=plots_prefix or default_prefix,
        example=facts.example,
        corpus_citation=note.get("citation"),
        cotgen_citation=COTGEN_CITATION,
    )
    return f"---\n{metadata.to_yaml()}\n---\n\n{body.rstrip()}\n\n{CARD_MARK}\n"


def write_card(run_dir: Path, export_dir: Path | None = None) -> Path:
    """Write ``README.md`` into the run folder (or the export folder); returns its path.

    Under the run folder's lock: the card reads the run's files and run.json, which another writer
    must not be changing meanwhile. A ``README.md`` cotgen did not write is never replaced: the card goes
    beside it as ``README.cotgen.md``, with a warning.
    """
    folder = export_dir or run_dir
    target = folder / CARD
    if target.exists() and not is_cotgen_card(target):
        logger.warning("%s is not a card cotgen wrote: left as it is, the card is %s", target, CARD_ASIDE)
        target = folder / CARD_ASIDE
    with run_lock(run_dir, "cotgen card"):
        text = render_card(run_dir, export_dir)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
    claim(folder, target.name)
    return target
