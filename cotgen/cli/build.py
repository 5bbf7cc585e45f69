"""``cotgen build`` (teacher traces for a corpus) and ``cotgen prompt`` (the exact messages of one utterance).

Both commands only turn options into a :class:`~cotgen.build.run.BuildConfig` and call the library
(:func:`cotgen.build.run.run_build`, :func:`cotgen.build.run.prepare`), then print what came back.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from cotgen.cli.app import app, console, err_console
from cotgen.cli.batch_report import print_batch
from cotgen.cli.options import (
    DEFAULT_CORPUS,
    INPUT,
    OUTPUT,
    PROMPT_MORE,
    SERVER_MORE,
    TEACHER,
    AllowMissingAudioOption,
    ApiKeyEnvOption,
    BaseUrlOption,
    BatchFileOnlyOption,
    BatchOption,
    BatchPollOption,
    BatchResultsOption,
    BatchWaitOption,
    CacheOption,
    ClassesOption,
    ConcurrencyOption,
    CorpusOption,
    DaskOption,
    DryRunOption,
    IncludeNoMajorityOption,
    LimitOption,
    MaxAudioSecondsOption,
    MaxRetriesOption,
    MaxTokensOption,
    ModeOption,
    NoStructuredOption,
    OutOfSetOption,
    OutOption,
    ProgressOption,
    PromptsOption,
    RootOption,
    RpmOption,
    SamplesOption,
    SelfEvalOption,
    SendAudioOption,
    TemperatureOption,
    TimeoutOption,
    TpmOption,
    WorkersOption,
)
from cotgen.core.inert import visible
from cotgen.core.limits import MAX_AUDIO_SECONDS
from cotgen.records.consistency import MIN_COHERENCE
from cotgen.records.faithfulness_gate import DEFAULT_MIN_FAITHFULNESS
from cotgen.teachers.bounds import MAX_RESPONSE_BYTES

if TYPE_CHECKING:
    from cotgen.build.run import BuildSummary

TeacherOption = Annotated[
    str,
    typer.Option(
        "--teacher",
        metavar="TEACHER",
        rich_help_panel=TEACHER,
        help="'template' (offline, deterministic) or 'openai:MODEL' (any OpenAI-compatible server).",
    ),
]
OutageAfterOption = Annotated[
    float,
    typer.Option(
        "--outage-after",
        metavar="SECONDS",
        rich_help_panel=SERVER_MORE,
        help="Stop (items left to do, none rejected) after this many seconds of only connection failures "
        "and timeouts since the server's last answer.",
    ),
]
MaxResponseMbOption = Annotated[
    float,
    typer.Option(
        "--max-response-mb",
        metavar="MIB",
        rich_help_panel=SERVER_MORE,
        help="Largest answer read, in MiB; a larger one is a broken answer, retried like a 5xx.",
    ),
]
RepairsOption = Annotated[
    int, typer.Option("--repairs", min=0, rich_help_panel=PROMPT_MORE, help="Repair turns after an invalid answer.")
]
MinFaithfulnessOption = Annotated[
    float,
    typer.Option(
        "--min-faithfulness",
        metavar="X",
        rich_help_panel=TEACHER,
        help="Reject traces whose cue levels agree less with the measured ones (0..1; 0: no gate).",
    ),
]
MinCoherenceOption = Annotated[
    float,
    typer.Option(
        "--min-coherence",
        metavar="X",
        rich_help_panel=PROMPT_MORE,
        help="Reject traces whose cited cues point away from their own distribution (0..1; 0: no gate).",
    ),
]
KeepNumbersOption = Annotated[
    bool,
    typer.Option(
        "--keep-numbers",
        rich_help_panel=PROMPT_MORE,
        help="Training texts keep the teacher's measured numbers (Hz, dB, SD...); by default they say cues in words.",
    ),
]
StagesOption = Annotated[
    str | None,
    typer.Option(
        "--stages",
        metavar="ORDER",
        rich_help_panel=PROMPT_MORE,
        help="Order of the reasoning stages, e.g. lexical,acoustic,ambiguity,distribution (the distribution last).",
    ),
]
PriceInOption = Annotated[
    float | None,
    typer.Option("--price-in", metavar="USD", rich_help_panel=SERVER_MORE, help="USD per million input tokens."),
]
PriceOutOption = Annotated[
    float | None,
    typer.Option("--price-out", metavar="USD", rich_help_panel=SERVER_MORE, help="USD per million output tokens."),
]
RetryRejectsOption = Annotated[
    bool, typer.Option("--retry-rejects", rich_help_panel=TEACHER, help="Try rejected items again.")
]
ResampleOption = Annotated[
    bool,
    typer.Option(
        "--resample",
        rich_help_panel=PROMPT_MORE,
        help="With --retry-rejects: draw new predict samples instead of the cached answers "
        "(gold items are asked again only when the cached answer was a failure).",
    ),
]
GoldToleranceOption = Annotated[
    float,
    typer.Option(
        "--gold-tolerance",
        metavar="BITS",
        rich_help_panel=PROMPT_MORE,
        help="Largest JS divergence (bits) between a gold trace's own distribution and the human one.",
    ),
]
ContextOption = Annotated[
    int,
    typer.Option(
        "--context",
        metavar="K",
        min=0,
        rich_help_panel=TEACHER,
        help="Quote the K previous turns of the same dialogue (with speakers) in teacher and student prompts"
        " (IEMOCAP, MELD, MSP-Podcast); 0 = none.",
    ),
]


def _print_summary(summary: BuildSummary, offline: bool) -> None:
    if summary.dry_run is not None:
        est = summary.dry_run
        cost = (
            f"${est.cost_usd:.4f}"
            if est.cost_usd is not None
            else "unknown (no price for this model; use --price-in/--price-out)"
        )
        console.print(
            f"dry run: {summary.items} items selected, {summary.skipped} already done, {summary.stale} stale; "
            f"{est.requests} requests to send, {est.features_rejects} would be rejected for features",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        console.print(
            f"estimated tokens (characters / 4): {est.prompt_tokens:,} in, {est.completion_tokens:,} out; "
            f"estimated cost of first turns: {cost}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return
    reasons = ", ".join(f"{reason} {n}" for reason, n in summary.reject_reasons.items()) or "none"
    console.print(
        f"{summary.run_dir}: {summary.traces} traces, {summary.rejects} rejects ({reasons}), {summary.sft} SFT records "
        f"[this run: {summary.new_traces} traces, {summary.new_rejects} rejects, {summary.skipped} already done, "
        f"{summary.stale} stale redone]",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    scores = ", ".join(
        f"{name.removeprefix('mean_')} {value:.2f}" for name, value in summary.scores.items() if value is not None
    )
    if scores:
        console.print(f"mean scores of the traces: {scores}", markup=False, highlight=False, soft_wrap=True)
    for reason, count in sorted(summary.reject_reasons.items(), key=lambda kv: -kv[1])[:TOP_REASONS]:
        example = summary.reject_examples.get(reason, "")
        console.print(f"  {count} {reason}: {visible(example)}", markup=False, highlight=False, soft_wrap=True)
    if summary.rejects:
        console.print(RETRY_REJECTS_HINT, markup=False, highlight=False, soft_wrap=True)
    if summary.unfinished:
        console.print(unfinished_line(summary), markup=False, highlight=False, soft_wrap=True)
    if offline:  # the template teacher sends nothing, so tokens and cost would only ever say 0
        console.print(f"offline template teacher (rule-generated traces), {summary.wall_s:.1f} s", highlight=False)
        return
    usage = summary.usage
    print_batch(usage.get("batch"))
    cost = f"${summary.cost_usd:.4f}" if summary.cost_usd is not None else "unknown"
    console.print(
        f"requests {usage.get('requests', 0)}, cache hits {usage.get('cache_hits', 0)}, tokens "
        f"{usage.get('prompt_tokens', 0):,} in / {usage.get('completion_tokens', 0):,} out, cost {cost}, "
        f"{summary.wall_s:.1f} s",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


TOP_REASONS = 3
RETRY_REJECTS_HINT = "rejects are final: rerun with --retry-rejects to ask the rejected items again"


def unfinished_line(summary: BuildSummary) -> str:
    """The items the server failed: how many, why (with the first one's detail), and that a rerun asks them."""
    examples = summary.unfinished_examples
    reasons = "; ".join(f"{reason} {n}: {examples.get(reason, '')}" for reason, n in summary.unfinished_reasons.items())
    return (
        f"{summary.unfinished} items left to do after server failures ({reasons}); they are not rejects: "
        "rerun the same command to ask them again"
    )


@app.command("build")
def build_command(
    corpus: CorpusOption = DEFAULT_CORPUS,
    root: RootOption = None,
    classes: ClassesOption = None,
    limit: LimitOption = None,
    self_eval: SelfEvalOption = False,
    allow_missing_audio: AllowMissingAudioOption = False,
    out_of_set: OutOfSetOption = "drop-votes",
    include_no_majority: IncludeNoMajorityOption = False,
    out: OutOption = None,
    dry_run: DryRunOption = False,
    teacher: TeacherOption = "template",
    base_url: BaseUrlOption = None,
    samples: SamplesOption = 0,
    mode: ModeOption = None,
    min_faithfulness: MinFaithfulnessOption = DEFAULT_MIN_FAITHFULNESS,
    context: ContextOption = 0,
    retry_rejects: RetryRejectsOption = False,
    batch: BatchOption = False,
    api_key_env: ApiKeyEnvOption = "OPENAI_API_KEY",
    concurrency: ConcurrencyOption = 8,
    rpm: RpmOption = None,
    tpm: TpmOption = None,
    timeout: TimeoutOption = 60.0,
    max_retries: MaxRetriesOption = 6,
    outage_after: OutageAfterOption = 30.0,
    max_response_mb: MaxResponseMbOption = MAX_RESPONSE_BYTES / 2**20,
    max_tokens: MaxTokensOption = None,
    price_in: PriceInOption = None,
    price_out: PriceOutOption = None,
    prompts: PromptsOption = None,
    no_structured: NoStructuredOption = False,
    send_audio: SendAudioOption = False,
    temperature: TemperatureOption = 1.0,
    repairs: RepairsOption = 2,
    gold_tolerance: GoldToleranceOption = 0.01,
    resample: ResampleOption = False,
    min_coherence: MinCoherenceOption = MIN_COHERENCE,
    keep_numbers: KeepNumbersOption = False,
    stages: StagesOption = None,
    batch_file_only: BatchFileOnlyOption = False,
    batch_results: BatchResultsOption = None,
    batch_poll: BatchPollOption = 30.0,
    batch_wait: BatchWaitOption = True,
    workers: WorkersOption = None,
    dask_scheduler: DaskOption = None,
    max_audio_seconds: MaxAudioSecondsOption = MAX_AUDIO_SECONDS,
    cache: CacheOption = None,
    progress: ProgressOption = True,
) -> None:
    """Write teacher traces (traces.jsonl, rejects.jsonl), sft.jsonl and run.json; reruns resume where they stopped."""
    # The library is imported in the command, never at the top: `cotgen --help` and every other command's help
    # load this module, and the build brings numpy, pydantic and the OpenAI client (tests/test_cli_imports.py).
    from cotgen.build.run import BuildConfig, run_build

    config = BuildConfig(
        corpus=corpus,
        root=root,
        classes=classes,
        self_eval=self_eval,
        allow_missing_audio=allow_missing_audio,
        out_of_set=out_of_set,  # checked when the corpus is loaded
        include_no_majority=include_no_majority,
        out=out,
        teacher=teacher,
        base_url=base_url,
        api_key_env=api_key_env,
        concurrency=concurrency,
        rpm=rpm,
        tpm=tpm,
        timeout=timeout,
        max_retries=max_retries,
        outage_after=outage_after,
        max_response_bytes=int(max_response_mb * 2**20),
        structured=not no_structured,
        send_audio=send_audio,
        samples=samples,
        temperature=temperature,
        mode=mode,  # type: ignore[arg-type]  # checked by BuildConfig.check
        repairs=repairs,
        min_faithfulness=min_faithfulness,
        min_coherence=min_coherence,
        keep_numbers=keep_numbers,
        stages=stages,
        max_tokens=max_tokens,
        price_in=price_in,
        price_out=price_out,
        cache=cache,
        prompts=prompts,
        dry_run=dry_run,
        limit=limit,
        retry_rejects=retry_rejects,
        resample=resample,
        gold_tolerance=gold_tolerance,
        workers=workers,
        dask_scheduler=dask_scheduler,
        max_audio_seconds=max_audio_seconds,
        progress=progress,
        context=context,
        batch=batch,
        batch_file_only=batch_file_only,
        batch_results=batch_results,
        batch_poll=batch_poll,
        batch_wait=batch_wait,
    )
    summary = run_build(config, console=err_console)
    if summary.dry_run is None:
        # Imported here: the card's statistics need pandas and huggingface_hub, loaded only now.
        from cotgen.report.card import write_card

        write_card(summary.run_dir)
    _print_summary(summary, offline=config.model is None)
    if summary.dry_run is None and (summary.unfinished or (summary.traces == 0 and summary.rejects > 0)):
        # Nothing usable came out, or the server left items undone: a script must not carry on as if it had.
        raise typer.Exit(code=1)


@app.command("prompt")
def prompt_command(
    utterance_id: Annotated[str, typer.Option("--id", metavar="ID", rich_help_panel=INPUT, help="The utterance id.")],
    corpus: CorpusOption = DEFAULT_CORPUS,
    root: RootOption = None,
    classes: ClassesOption = None,
    self_eval: SelfEvalOption = False,
    allow_missing_audio: AllowMissingAudioOption = False,
    out_of_set: OutOfSetOption = "drop-votes",
    include_no_majority: IncludeNoMajorityOption = False,
    out: OutOption = None,
    mode: ModeOption = "rationalize",
    prompts: PromptsOption = None,
    no_structured: NoStructuredOption = False,
    send_audio: SendAudioOption = False,
    as_json: Annotated[
        bool, typer.Option("--json", rich_help_panel=OUTPUT, help="Print the messages as JSON, exactly as sent.")
    ] = False,
    cache: CacheOption = None,
    workers: WorkersOption = None,
) -> None:
    """Print the exact messages a teacher gets for one utterance (features are measured or reused first)."""
    from cotgen.build.outcome import Item  # here, not at the top: see build_command
    from cotgen.build.run import BuildConfig, prepare
    from cotgen.build.teach_pool import item_messages
    from cotgen.core.run_lock import run_lock
    from cotgen.prompts.templates import load_prompts

    if mode not in ("rationalize", "predict"):
        raise typer.BadParameter(f"{mode!r}: expected rationalize or predict", param_hint="--mode")
    config = BuildConfig(
        corpus=corpus,
        root=root,
        classes=classes,
        self_eval=self_eval,
        allow_missing_audio=allow_missing_audio,
        out_of_set=out_of_set,  # checked when the corpus is loaded
        include_no_majority=include_no_majority,
        out=out,
        structured=not no_structured,
        send_audio=send_audio,
        cache=cache,
        prompts=prompts,
        workers=workers,
        progress=False,
    )
    prompt_set = load_prompts(prompts)
    with run_lock(config.run_dir(), "cotgen prompt"):  # it writes utterances.jsonl and features.parquet
        prepared = prepare(config, config.run_dir())
    utt = prepared.utterance(utterance_id)
    item = Item(utt, 0 if mode == "rationalize" else 1, mode)  # type: ignore[arg-type]  # checked above
    messages = item_messages(prompt_set, prepared.inputs(utt), item, config.teach_settings())
    if as_json:
        typer.echo(json.dumps(messages, ensure_ascii=False, indent=2))
        return
    for message in messages:
        content = message["content"]
        if isinstance(content, list):
            content = "\n".join(p["text"] if p["type"] == "text" else f"[{p['type']}: {utt.audio}]" for p in content)
        typer.echo(f"--- {message['role']} ---\n{content}")
