"""``cotgen build`` (teacher traces for a corpus) and ``cotgen prompt`` (the exact messages of one utterance).

Both commands only turn options into a :class:`~cotgen.build.run.BuildConfig` and call the library
(:func:`cotgen.build.run.run_build`, :func:`cotgen.build.run.prepare`), then print what came back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cotgen.build.outcome import DEFAULT_MIN_FAITHFULNESS, Item
from cotgen.build.run import BuildConfig, BuildSummary, prepare, run_build
from cotgen.build.teach_pool import item_messages
from cotgen.cli.app import app, console, err_console
from cotgen.cli.batch_options import (
    BatchFileOnlyOption,
    BatchOption,
    BatchPollOption,
    BatchResultsOption,
    BatchWaitOption,
    print_batch,
)
from cotgen.cli.corpus_options import (
    DEFAULT_CORPUS,
    AllowMissingAudioOption,
    ClassesOption,
    CorpusOption,
    RootOption,
    SelfEvalOption,
)
from cotgen.cli.features import CacheOption, DaskOption, OutDirOption, ProgressOption, WorkersOption
from cotgen.core.run_lock import run_lock
from cotgen.prompts.templates import load_prompts
from cotgen.records.consistency import MIN_COHERENCE

TeacherOption = Annotated[
    str,
    typer.Option(
        "--teacher", help="'template' (offline, deterministic) or 'openai:MODEL' (any OpenAI-compatible server)."
    ),
]
PromptsOption = Annotated[
    Path | None, typer.Option("--prompts", help="Folder with your own system/rationalize/predict/repair .j2 templates.")
]
ModeOption = Annotated[
    str | None,
    typer.Option("--mode", help="rationalize (gold, sample 0), predict (samples 1..K) or both (default when K > 0)."),
]
SendAudioOption = Annotated[
    bool,
    typer.Option(
        "--send-audio", help="Attach the clip (base64 WAV) for audio-capable teachers; schema goes in the prompt."
    ),
]
NoStructuredOption = Annotated[
    bool,
    typer.Option(
        "--no-structured", help="Do not send a json_schema response_format (servers without structured outputs)."
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
    for reason, count in sorted(summary.reject_reasons.items(), key=lambda kv: -kv[1])[:TOP_REASONS]:
        example = summary.reject_examples.get(reason, "")
        console.print(f"  {count} {reason}: {example}", markup=False, highlight=False, soft_wrap=True)
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


@app.command("build")
def build_command(
    corpus: CorpusOption = DEFAULT_CORPUS,
    root: RootOption = None,
    classes: ClassesOption = None,
    self_eval: SelfEvalOption = False,
    allow_missing_audio: AllowMissingAudioOption = False,
    out: OutDirOption = None,
    teacher: TeacherOption = "template",
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="Server URL (default $OPENAI_BASE_URL, else OpenAI).")
    ] = None,
    api_key_env: Annotated[
        str, typer.Option("--api-key-env", help="Environment variable holding the API key.")
    ] = "OPENAI_API_KEY",
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="Requests in flight at once.")] = 8,
    rpm: Annotated[float | None, typer.Option("--rpm", help="At most this many requests per minute.")] = None,
    tpm: Annotated[float | None, typer.Option("--tpm", help="At most this many tokens per minute.")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds before one request times out.")] = 60.0,
    max_retries: Annotated[
        int, typer.Option("--max-retries", min=0, help="Retries of one request (429, 5xx, timeouts).")
    ] = 6,
    outage_after: Annotated[
        float,
        typer.Option(
            "--outage-after",
            help="Stop (items left to do, none rejected) after this many seconds of only connection failures "
            "and timeouts since the server's last answer.",
        ),
    ] = 30.0,
    no_structured: NoStructuredOption = False,
    send_audio: SendAudioOption = False,
    samples: Annotated[int, typer.Option("--samples", min=0, help="K predict-mode samples per utterance (1..K).")] = 0,
    temperature: Annotated[float, typer.Option("--temperature", help="Sampling temperature of predict samples.")] = 1.0,
    mode: ModeOption = None,
    repairs: Annotated[int, typer.Option("--repairs", min=0, help="Repair turns after an invalid answer.")] = 2,
    min_faithfulness: Annotated[
        float,
        typer.Option("--min-faithfulness", help="Reject traces whose cue levels agree less (0..1; 0: no gate)."),
    ] = DEFAULT_MIN_FAITHFULNESS,
    min_coherence: Annotated[
        float,
        typer.Option(
            "--min-coherence",
            help="Reject traces whose cited cues point away from their distribution (0..1; 0: no gate).",
        ),
    ] = MIN_COHERENCE,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", help="Completion token limit per request.")] = None,
    price_in: Annotated[float | None, typer.Option("--price-in", help="USD per million input tokens.")] = None,
    price_out: Annotated[float | None, typer.Option("--price-out", help="USD per million output tokens.")] = None,
    cache: CacheOption = None,
    prompts: PromptsOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Render prompts, estimate tokens and cost; call nothing.")
    ] = False,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N utterances.")] = None,
    retry_rejects: Annotated[bool, typer.Option("--retry-rejects", help="Try rejected items again.")] = False,
    resample: Annotated[
        bool,
        typer.Option(
            "--resample",
            help="With --retry-rejects: draw new predict samples instead of the cached answers "
            "(gold items are asked again only when the cached answer was a failure).",
        ),
    ] = False,
    gold_tolerance: Annotated[
        float,
        typer.Option(
            "--gold-tolerance",
            help="Largest JS divergence (bits) between a gold trace's own distribution and the human one.",
        ),
    ] = 0.01,
    workers: WorkersOption = None,
    dask_scheduler: DaskOption = None,
    progress: ProgressOption = True,
    context: Annotated[
        int,
        typer.Option(
            "--context",
            min=0,
            help="Quote the K previous turns of the same dialogue (with speakers) in teacher and student prompts"
            " (IEMOCAP, MELD, MSP-Podcast); 0 = none.",
        ),
    ] = 0,
    batch: BatchOption = False,
    batch_file_only: BatchFileOnlyOption = False,
    batch_results: BatchResultsOption = None,
    batch_poll: BatchPollOption = 30.0,
    batch_wait: BatchWaitOption = True,
) -> None:
    """Write teacher traces (traces.jsonl, rejects.jsonl), sft.jsonl and run.json; reruns resume where they stopped."""
    config = BuildConfig(
        corpus=corpus,
        root=root,
        classes=classes,
        self_eval=self_eval,
        allow_missing_audio=allow_missing_audio,
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
        structured=not no_structured,
        send_audio=send_audio,
        samples=samples,
        temperature=temperature,
        mode=mode,  # type: ignore[arg-type]  # checked by BuildConfig.check
        repairs=repairs,
        min_faithfulness=min_faithfulness,
        min_coherence=min_coherence,
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
    if summary.dry_run is None and summary.traces == 0 and summary.rejects > 0:
        # Nothing usable came out: a script running the build must not carry on as if it had.
        raise typer.Exit(code=1)


@app.command("prompt")
def prompt_command(
    utterance_id: Annotated[str, typer.Option("--id", help="The utterance id.")],
    corpus: CorpusOption = DEFAULT_CORPUS,
    root: RootOption = None,
    classes: ClassesOption = None,
    self_eval: SelfEvalOption = False,
    allow_missing_audio: AllowMissingAudioOption = False,
    out: OutDirOption = None,
    mode: Annotated[str, typer.Option("--mode", help="rationalize or predict.")] = "rationalize",
    prompts: PromptsOption = None,
    no_structured: NoStructuredOption = False,
    send_audio: SendAudioOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the messages as JSON, exactly as sent.")] = False,
    cache: CacheOption = None,
    workers: WorkersOption = None,
) -> None:
    """Print the exact messages a teacher gets for one utterance (features are measured or reused first)."""
    if mode not in ("rationalize", "predict"):
        raise typer.BadParameter(f"{mode!r}: expected rationalize or predict", param_hint="--mode")
    config = BuildConfig(
        corpus=corpus,
        root=root,
        classes=classes,
        self_eval=self_eval,
        allow_missing_audio=allow_missing_audio,
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
