"""``cotgen features``: measure a corpus's audio into ``outputs/<corpus>/features.parquet``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cotgen.cli.app import app, console
from cotgen.cli.corpus_options import (
    DEFAULT_CORPUS,
    AllowMissingAudioOption,
    ClassesOption,
    CorpusOption,
    RootOption,
    SelfEvalOption,
)
from cotgen.core.errors import CotgenError
from cotgen.core.paths import run_dir
from cotgen.corpora import load_corpus

WorkersOption = Annotated[
    int | None, typer.Option("--workers", min=1, help="Processes measuring audio in parallel (default: all cores).")
]
OutDirOption = Annotated[Path | None, typer.Option("--out", help="Run folder (default outputs/<corpus>/).")]
CacheOption = Annotated[
    Path | None, typer.Option("--cache", help="Cache folder (default ${XDG_CACHE_HOME:-~/.cache}/cotgen).")
]
DaskOption = Annotated[
    str | None,
    typer.Option("--dask-scheduler", help="Run the extraction on this Dask scheduler (needs cotgen[dask])."),
]
ProgressOption = Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")]


@app.command("features")
def features_command(
    corpus: CorpusOption = DEFAULT_CORPUS,
    root: RootOption = None,
    classes: ClassesOption = None,
    self_eval: SelfEvalOption = False,
    allow_missing_audio: AllowMissingAudioOption = False,
    workers: WorkersOption = None,
    out: OutDirOption = None,
    cache: CacheOption = None,
    dask_scheduler: DaskOption = None,
    progress: ProgressOption = True,
) -> None:
    """Measure prosody and voice quality of every utterance (cached by audio content) into features.parquet."""
    # Imported here, not at the top: `cotgen` imports every command module for every command, and the features
    # table loads pandas and pyarrow (about 80 MB): `cotgen build` loads them only after its corpus is in.
    from cotgen.acoustics import FEATURES_FILE, run_features_stage

    load = load_corpus(corpus, root, classes, self_eval, allow_missing_audio)
    if not load.utterances:
        raise CotgenError(f"no utterance kept from {load.corpus}; run `cotgen corpus --corpus {corpus}` to see why")
    out_dir = run_dir(load.corpus, out)
    frame = run_features_stage(load.utterances, out_dir, workers, cache, dask_scheduler, progress)
    failed = frame["error"].dropna()
    console.print(
        f"measured {len(frame) - len(failed)} of {len(frame)} utterances into {out_dir / FEATURES_FILE}",
        highlight=False,
    )
    for reason, count in failed.value_counts().items():
        console.print(f"  not measured ({reason}): {count}", highlight=False)
