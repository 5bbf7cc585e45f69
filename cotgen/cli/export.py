"""``cotgen export``: write a run's training records in one trainer's format (thin: see cotgen.export.writer)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer
from rich.table import Table

from cotgen.cli.app import app, console
from cotgen.cli.options import INPUT, OUTPUT, AllowStaleOption, ForceOption, OutOption, RunOption, SeedOption
from cotgen.core.errors import CotgenError
from cotgen.core.inert import inert
from cotgen.core.paths import DEFAULT_RUN

if TYPE_CHECKING:
    from cotgen.export.messages import AudioMode
    from cotgen.records.answer import AnswerMode


def parse_label_words(text: str) -> dict[str, str]:
    """``neu=neutral,hap=happy`` as a mapping; a malformed entry is a one-line error naming it."""
    words: dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        code, sep, word = entry.partition("=")
        if not sep or not code.strip() or not word.strip():
            raise CotgenError(f"--label-words: {entry!r} is not CODE=WORD (e.g. neu=neutral,hap=happy)")
        words[code.strip()] = word.strip()
    return words


def print_label_layout(layout: dict | None) -> None:
    """One line per class of a checked label layout: its word and its token."""
    if layout is None:
        return
    console.print(f"label tokens checked with {layout['tokenizer']}:", markup=False, highlight=False)
    for code, word in layout["words"].items():
        why = f"  (the code: {layout['replaced'][code]})" if code in layout["replaced"] else ""
        token = layout["token_texts"][code]
        console.print(f"  {code}: {word!r} = token {token!r} id {layout['token_ids'][code]}{why}", markup=False)


@app.command()
def export(
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            metavar="FORMAT",
            rich_help_panel=OUTPUT,
            help="Trainer format: trl, llamafactory (llama-factory) or swift (ms-swift), any case.",
        ),
    ],
    run_dir: RunOption = DEFAULT_RUN,
    out: OutOption = None,
    split: Annotated[
        str | None,
        typer.Option(
            "--split",
            metavar="PROTOCOL",
            rich_help_panel=OUTPUT,
            help=(
                "loso:K, folds:N:K, speaker:V,T or corpus; loso:all or folds:N write every fold into its own "
                "fold_* folder. A fold tests on one session (fold) and trains on all others, with no validation "
                "set unless +val:S (loso:all+val:0.1) holds out training speakers. Default: loso:5 (IEMOCAP), "
                "loso:6 (MSP-IMPROV), folds:5:1 (CREMA-D), corpus (MSP-Podcast, EMO-SUPERB), speaker:0.1,0.1."
            ),
        ),
    ] = None,
    seed: SeedOption = 0,
    answer: Annotated[
        str,
        typer.Option(
            "--answer",
            metavar="MODE",
            rich_help_panel=OUTPUT,
            help="text: the trace; label: the trace plus a final 'Label: WORD' line (WORD: the class code "
            "unless --label-words or --tokenizer say otherwise).",
        ),
    ] = "text",
    audio: Annotated[
        str,
        typer.Option(
            "--audio",
            metavar="MODE",
            rich_help_panel=OUTPUT,
            help="absolute paths, paths relative to where the trainer resolves them, or copy.",
        ),
    ] = "absolute",
    review: Annotated[
        Path | None,
        typer.Option(
            "--review",
            metavar="FILE",
            rich_help_panel=INPUT,
            help="review.jsonl from `cotgen review`: leave rejected traces and their pairs out.",
        ),
    ] = None,
    allow_stale: AllowStaleOption = False,
    tokenizer: Annotated[
        Path | None,
        typer.Option(
            "--tokenizer",
            metavar="DIR",
            rich_help_panel=OUTPUT,
            help="With --answer label: the student's tokenizer folder (tokenizer.json; nothing is downloaded). "
            "Each class's label must be one token of its own there; other words are chosen where the code is not.",
        ),
    ] = None,
    label_words: Annotated[
        str | None,
        typer.Option(
            "--label-words",
            metavar="CODE=WORD,...",
            rich_help_panel=OUTPUT,
            help="With --answer label: the word written for each class on the label line (default: the codes).",
        ),
    ] = None,
    force: ForceOption = False,
) -> None:
    """Write {sft,dpo,grpo}_{train,validation,test}.jsonl for TRL, LLaMA-Factory or ms-swift."""
    # Imported here, not at the top: `cotgen` imports every command module for every command, and these load
    # pandas, pyarrow and huggingface_hub (about 90 MB) that only this command uses.
    from cotgen.export.splits import is_all_folds
    from cotgen.export.writer import ExportFormat, export_folds, export_run
    from cotgen.report.card import write_card

    words = parse_label_words(label_words) if label_words is not None else None
    if split is not None and is_all_folds(split):
        folds = export_folds(
            run_dir,
            cast(ExportFormat, fmt),
            split,
            answer=cast("AnswerMode", answer),
            audio=cast("AudioMode", audio),
            out_dir=out,
            allow_stale=allow_stale,
            review=review,
            label_words=words,
            tokenizer=tokenizer,
            seed=seed,
            force=force,
        )
        write_card(run_dir)
        table = Table(title=f"{fmt} export of {run_dir}, every fold of {folds.protocol}", caption=folds.description)
        for column in ("fold", "split", *(f"{name} utterances" for name in ("train", "validation", "test")), "rows"):
            table.add_column(column, justify="left" if column in ("fold", "split") else "right")
        for name, result in folds.folds.items():
            write_card(run_dir, export_dir=result.out_dir)
            sizes = result.utterances_per_split
            rows = sum(result.files.values())
            table.add_row(
                name, result.split, *(str(sizes.get(s, 0)) for s in ("train", "validation", "test")), str(rows)
            )
        console.print(table)
        for name, result in folds.folds.items():
            for reason, count in result.skipped.items():
                console.print(f"{name}: skipped {count} records: {reason.replace('_', ' ')}")
        print_label_layout(next(iter(folds.folds.values())).label_layout if folds.folds else None)
        console.print(f"written to {inert(str(folds.out_dir))} (folds listed in folds.json)", highlight=False)
        return
    # export_run checks the three choices and names the option in its error.
    result = export_run(
        run_dir,
        cast(ExportFormat, fmt),
        split=split,
        seed=seed,
        answer=cast("AnswerMode", answer),
        audio=cast("AudioMode", audio),
        out_dir=out,
        allow_stale=allow_stale,
        review=review,
        label_words=words,
        tokenizer=tokenizer,
        force=force,
    )
    write_card(run_dir)
    write_card(run_dir, export_dir=result.out_dir)
    print_label_layout(result.label_layout)
    table = Table(title=f"{result.format} export of {run_dir} (split {result.split})", caption=result.description)
    table.add_column("file")
    table.add_column("rows", justify="right")
    for name, rows in result.files.items():
        table.add_row(name, str(rows))
    console.print(table)
    for reason, count in result.skipped.items():
        console.print(f"skipped {count} records: {reason.replace('_', ' ')}")
    if result.review is not None:
        marks = result.review
        left_out = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in marks["left_out"].items())
        console.print(f"review: {marks['reviewed']} traces reviewed, {marks['reject']} rejected; left out {left_out}")
    console.print(f"written to {inert(str(result.out_dir))}", highlight=False)
