"""``cotgen corpus`` (corpus on disk -> utterances.jsonl + summary) and ``cotgen corpora`` (what is supported)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table

from cotgen.cli.app import app, console
from cotgen.cli.options import (
    DEFAULT_CORPUS,
    AllowMissingAudioOption,
    ClassesOption,
    CorpusOption,
    IncludeNoMajorityOption,
    OutOfSetOption,
    OutOption,
    RootOption,
    SelfEvalOption,
)
from cotgen.core.errors import CotgenError
from cotgen.core.inert import inert
from cotgen.core.paths import CORPORA_DIR, USER_CORPORA_DIR, run_dir

if TYPE_CHECKING:
    from cotgen.corpora import CorpusLoad

UTTERANCES_FILE = "utterances.jsonl"


def utterances_path(corpus: str, out: Path | None) -> Path:
    """``utterances.jsonl`` in the run folder: ``--out``, else ``outputs/<corpus>/`` (as build and features)."""
    return run_dir(corpus, out) / UTTERANCES_FILE


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def render_summary(load: CorpusLoad) -> None:
    """Print the load's summary as rich tables, with the first place each drop reason occurred."""
    summary = load.summary()
    classes = Table(title=f"{summary.corpus}: {summary.kept} utterances kept")
    classes.add_column("class")
    classes.add_column("vote mass", justify="right")
    classes.add_column("majority", justify="right")
    classes.add_column("alpha", justify="right")
    classes.add_column("norm. entropy", justify="right")
    per_class = {row.code: row for row in summary.agreement.per_class} if summary.agreement else {}
    for row in summary.classes:
        agreement = per_class.get(row.code)
        alpha = _fmt(agreement.alpha if agreement else None)
        entropy = _fmt(agreement.mean_normalised_entropy if agreement else None)
        classes.add_row(row.code, f"{row.vote_mass:.2f}", str(row.majority), alpha, entropy)
    classes.add_row("(tie)", "", str(summary.ties), "", "")
    console.print(classes)
    console.print(
        f"annotators per utterance: min {summary.annotators_min}, mean {summary.annotators_mean:.2f}, "
        f"max {summary.annotators_max}; mean entropy {summary.mean_entropy_bits:.3f} bits",
        highlight=False,
    )
    for line in summary.agreement_lines():
        console.print(line, highlight=False)
    if summary.missing_audio_kept:
        console.print(f"kept without audio (--allow-missing-audio): {summary.missing_audio_kept}", highlight=False)
    if not summary.dropped:
        console.print("dropped: 0")
        return
    dropped = Table(title=f"dropped: {sum(summary.dropped.values())}")
    dropped.add_column("reason")
    dropped.add_column("count", justify="right")
    dropped.add_column("first at", overflow="fold")
    dropped.add_column("detail", overflow="fold")
    first = {}
    for item in load.dropped:
        first.setdefault(item.reason, item)
    for reason, count in summary.dropped.items():
        dropped.add_row(inert(reason), str(count), inert(first[reason].where), inert(first[reason].detail))
    console.print(dropped)


@app.command("corpus")
def corpus_command(
    corpus: CorpusOption = DEFAULT_CORPUS,
    root: RootOption = None,
    classes: ClassesOption = None,
    self_eval: SelfEvalOption = False,
    allow_missing_audio: AllowMissingAudioOption = False,
    out_of_set: OutOfSetOption = "drop-votes",
    include_no_majority: IncludeNoMajorityOption = False,
    out: OutOption = None,
) -> None:
    """Read a corpus into utterances.jsonl (human label distributions) and print what was kept and dropped."""
    # The library is imported in the command, not at the top: every command's --help loads this module.
    from cotgen.core.run_log import run_log
    from cotgen.corpora import canonical_name, load_corpus
    from cotgen.records.utterance import write_utterances

    path = utterances_path(canonical_name(corpus), out)
    with run_log(path.parent) as log:
        load = load_corpus(corpus, root, classes, self_eval, allow_missing_audio, out_of_set, include_no_majority)
        render_summary(load)
        if not load.utterances:
            reasons = ", ".join(f"{reason}: {n}" for reason, n in load.summary().dropped.items()) or "no entries"
            raise CotgenError(f"no utterance kept from {load.corpus} ({reasons})")
        count = write_utterances(path, load.utterances)
        log.info("corpus %s: wrote %d utterances to %s, dropped %d", load.corpus, count, path, len(load.dropped))
    console.print(f"wrote {count} utterances to {inert(str(path))}", highlight=False)


@app.command("corpora")
def corpora_command() -> None:
    """List the supported corpora with their class sets, expected layout and where their root is looked for."""
    # One block per corpus in two columns, not a four-column table: at 80 columns the table split paths and
    # environment variable names over lines (`$COTGEN_IEMOCAP_ROO` / `T`), and names must be copied whole.
    from cotgen.corpora import CORPORA
    from cotgen.corpora.registry import env_variable

    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True, style="bold")
    table.add_column(overflow="fold")
    for name, recipe in CORPORA.items():
        bundled = CORPORA_DIR / name
        where = "bundled with cotgen" if bundled.exists() else f"{USER_CORPORA_DIR / name}/ or ${env_variable(name)}"
        table.add_row(name, f"classes (--classes): {recipe.classes_help}")
        table.add_row("", f"layout (--root): {recipe.layout_help}")
        table.add_row("", f"root when --root is left out: {where}")
    console.print("corpora (cotgen corpus --corpus NAME):", highlight=False)
    console.print(table, highlight=False)
