"""The corpus options shared by ``cotgen corpus``, ``cotgen features`` and ``cotgen build``.

Defined once so that the three commands spell, document and default them identically. Use them as
parameter annotations::

    @app.command()
    def features(
        corpus: CorpusOption = DEFAULT_CORPUS,
        root: RootOption = None,
        classes: ClassesOption = None,
        self_eval: SelfEvalOption = False,
        allow_missing_audio: AllowMissingAudioOption = False,
    ) -> None:
        load = load_corpus(corpus, root, classes, self_eval, allow_missing_audio)

This module registers no command; it is imported by the command modules that use it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DEFAULT_CORPUS = "demo"

CorpusOption = Annotated[
    str,
    typer.Option(
        "--corpus",
        help="Corpus name: iemocap, crema-d, msp-podcast, msp-improv, emo-superb, meld, ravdess, esd, tess, manifest"
        " or demo (see `cotgen corpora`).",
    ),
]
RootOption = Annotated[
    Path | None,
    typer.Option(
        "--root",
        help=(
            "Corpus folder (or the manifest file). Default: bundled (demo), else ./corpora/<name>/, "
            "else $COTGEN_<NAME>_ROOT."
        ),
    ),
]
ClassesOption = Annotated[
    str | None,
    typer.Option(
        "--classes",
        help="Class set: '4' (neu,hap,ang,sad), 'all', or codes like 'neu,hap+exc,ang,sad,fru' ('+' merges).",
    ),
]
SelfEvalOption = Annotated[
    bool,
    typer.Option("--self-eval", help="IEMOCAP: also count the actors' self-evaluations as votes."),
]
AllowMissingAudioOption = Annotated[
    bool,
    typer.Option(
        "--allow-missing-audio",
        help="Keep entries whose audio file is absent (their features then carry the error 'missing file').",
    ),
]
