"""The ``counterfactual`` source: the run's own teacher rationalises a corrupted distribution in its own words.

A corruption (:mod:`cotgen.pairs.corrupt`) keeps the gold's words and changes only the judgement,
which is right for the template teacher but leaves every rejected trace of an LLM-taught run
partly template-made. Here the teacher that wrote the gold is asked, in rationalize mode, to explain
each corrupted distribution of the gold (overconfident, flat, swapped, shifted) as if listeners had
voted that way, so LLM-written rejected traces exist before any student model does.

The asking is ``cotgen build``'s own (:func:`cotgen.build.run.teach_into`): the teacher and its
settings come from the run's ``run.json``, answers are cached by request content, priced with the
build's prices, and written durably to ``RUN/counterfactual/traces.jsonl`` and ``rejects.jsonl``,
so a rerun asks only for what is missing. In those records ``sample`` numbers the corruption kind
(1 overconfident, 2 flat, 3 swapped, 4 shifted) and ``kl``/``js`` measure how closely the teacher
followed the corrupted target, not the votes; pairs are scored against the votes from the text, as
every candidate is. With the template teacher the texts equal the ``corrupt`` ones (the same rule
wrote both), so the two sources add nothing to each other there.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from rich.console import Console

from cotgen.build.outcome import Item
from cotgen.build.run import BuildConfig, Prepared, TaughtItems, WorkItem, prepare_from_run, teach_into
from cotgen.build.state import TRACES_FILE
from cotgen.core.divergence import round_distribution
from cotgen.core.durable_files import read_run_json
from cotgen.core.errors import CotgenError
from cotgen.core.jsonl import iter_json_lines
from cotgen.pairs.candidates import counterfactual_dir
from cotgen.pairs.corrupt import CORRUPTIONS, corrupted_distribution
from cotgen.records.utterance import majority_of

_PATH_FIELDS = frozenset({"root", "out", "cache", "prompts"})


def run_config(run_dir: Path, progress: bool = True) -> BuildConfig:
    """The build configuration recorded in ``run.json``: the same teacher, server, limits, prices and cache."""
    recorded = read_run_json(run_dir).get("config")
    if not isinstance(recorded, Mapping):
        raise CotgenError(f"{run_dir / 'run.json'}: no build configuration (run `cotgen build` first)")
    known = {f.name for f in dataclasses.fields(BuildConfig)}
    values: dict[str, Any] = {}
    for name, value in recorded.items():
        if name in known:
            values[name] = Path(value) if name in _PATH_FIELDS and value is not None else value
    values.update(out=run_dir, progress=progress, dry_run=False, limit=None, retry_rejects=False)
    return BuildConfig(**values)


def gold_distributions(traces_path: Path) -> dict[str, dict[str, float]]:
    """The printed distribution of every gold (sample 0) trace, by utterance id."""
    golds: dict[str, dict[str, float]] = {}
    if not traces_path.exists():
        raise CotgenError(f"{traces_path}: no such file (run `cotgen build` first)")
    for _, record in iter_json_lines(traces_path, "trace line"):
        if record.get("sample") == 0:
            golds.setdefault(record["id"], record["distribution"])
    return golds


def counterfactual_items(prepared: Prepared, golds: Mapping[str, Mapping[str, float]]) -> Iterator[WorkItem]:
    """One rationalize item per (utterance with a gold trace, corruption that changes its distribution).

    The item's utterance carries the corrupted distribution as its target, so the teacher's prompt
    says listeners voted that way; everything else about the utterance is as the build saw it.
    """
    for position, utt in enumerate(prepared.utterances()):
        gold = golds.get(utt.id)
        if gold is None:
            continue
        profile = None if utt.id in prepared.errors else prepared.profile(position, utt)
        classes = utt.classes
        for number, kind in enumerate(CORRUPTIONS, start=1):
            target = round_distribution(corrupted_distribution(kind, gold, utt.distribution, utt.majority, classes))
            if all(math.isclose(target[c], gold[c]) for c in classes):
                continue
            target_utt = utt.model_copy(update={"distribution": target, "majority": majority_of(target)})
            yield Item(target_utt, number, "rationalize"), profile


def generate_counterfactuals(run_dir: Path, console: Console | None = None, progress: bool = True) -> TaughtItems:
    """Ask the run's teacher for every missing counterfactual trace (see the module docstring)."""
    config = run_config(run_dir, progress)
    golds = gold_distributions(run_dir / TRACES_FILE)
    prepared = prepare_from_run(config, run_dir)
    return teach_into(config, prepared, counterfactual_items(prepared, golds), counterfactual_dir(run_dir), console)
