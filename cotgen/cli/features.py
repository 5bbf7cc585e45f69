"""``cotgen features``: measure a corpus's audio into ``outputs/<corpus>/features.parquet``."""

from __future__ import annotations

from cotgen.cli.app import app, console
from cotgen.cli.options import (
    DEFAULT_CORPUS,
    AllowMissingAudioOption,
    CacheOption,
    ClassesOption,
    CorpusOption,
    DaskOption,
    IncludeNoMajorityOption,
    MaxAudioSecondsOption,
    OutOfSetOption,
    OutOption,
    ProgressOption,
    RootOption,
    SelfEvalOption,
    WorkersOption,
)
from cotgen.core.errors import CotgenError
from cotgen.core.inert import inert
from cotgen.core.limits import MAX_AUDIO_SECONDS
from cotgen.core.paths import run_dir


@app.command("features")
def features_command(
    corpus: CorpusOption = DEFAULT_CORPUS,
    root: RootOption = None,
    classes: ClassesOption = None,
    self_eval: SelfEvalOption = False,
    allow_missing_audio: AllowMissingAudioOption = False,
    out_of_set: OutOfSetOption = "drop-votes",
    include_no_majority: IncludeNoMajorityOption = False,
    out: OutOption = None,
    workers: WorkersOption = None,
    cache: CacheOption = None,
    dask_scheduler: DaskOption = None,
    progress: ProgressOption = True,
    max_audio_seconds: MaxAudioSecondsOption = MAX_AUDIO_SECONDS,
) -> None:
    """Measure prosody and voice quality of every utterance (cached by audio content) into features.parquet."""
    # Imported here, not at the top: `cotgen` imports every command module for every command, and the features
    # table loads pandas and pyarrow (about 80 MB): `cotgen build` loads them only after its corpus is in.
    from cotgen.acoustics import FEATURES_FILE, run_features_stage
    from cotgen.corpora import load_corpus

    load = load_corpus(corpus, root, classes, self_eval, allow_missing_audio, out_of_set, include_no_majority)
    if not load.utterances:
        raise CotgenError(f"no utterance kept from {load.corpus}; run `cotgen corpus --corpus {corpus}` to see why")
    out_dir = run_dir(load.corpus, out)
    frame = run_features_stage(load.utterances, out_dir, workers, cache, dask_scheduler, progress, max_audio_seconds)
    failed = frame["error"].dropna()
    console.print(
        f"measured {len(frame) - len(failed)} of {len(frame)} utterances into {inert(str(out_dir / FEATURES_FILE))}",
        highlight=False,
    )
    errors = frame.loc[failed.index, ["id", "error"]]
    unmeasured = set(errors["id"])
    audio = {u.id: u.audio for u in load.utterances if u.id in unmeasured}
    for reason, count in failed.value_counts().items():
        first = str(errors.loc[errors["error"] == reason, "id"].iloc[0])
        example = inert(f"{reason}): {count}, e.g. {first} ({audio[first]})")
        console.print(f"  not measured ({example}", highlight=False)
