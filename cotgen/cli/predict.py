"""``cotgen predict``: a served student model's answers to the student prompt (thin: see cotgen.predict.run)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cotgen.cli.app import app, console, err_console
from cotgen.cli.batch_report import print_batch
from cotgen.cli.options import (
    INPUT,
    PROMPT_MORE,
    TEACHER,
    ApiKeyEnvOption,
    BaseUrlOption,
    BatchFileOnlyOption,
    BatchOption,
    BatchPollOption,
    BatchResultsOption,
    BatchWaitOption,
    CacheOption,
    ConcurrencyOption,
    IdsOption,
    LimitOption,
    MaxRetriesOption,
    MaxTokensOption,
    OutputOption,
    ProgressOption,
    ReadoutOption,
    RpmOption,
    RunOption,
    SamplesOption,
    TemperatureOption,
    TimeoutOption,
    TpmOption,
)
from cotgen.core.paths import DEFAULT_RUN


@app.command("predict")
def predict_command(
    model: Annotated[
        str,
        typer.Option(
            "--model",
            metavar="MODEL",
            rich_help_panel=TEACHER,
            help="openai:NAME — the served model, or a LoRA adapter's --lora-modules name.",
        ),
    ],
    run_dir: RunOption = DEFAULT_RUN,
    output: OutputOption = None,
    base_url: BaseUrlOption = None,
    samples: SamplesOption = 1,
    ids: IdsOption = None,
    export: Annotated[
        Path | None,
        typer.Option(
            "--export",
            metavar="DIR",
            rich_help_panel=INPUT,
            help="Export folder whose --split rows say which utterances to ask.",
        ),
    ] = None,
    split: Annotated[
        str,
        typer.Option(
            "--split", metavar="SPLIT", rich_help_panel=INPUT, help="With --export: train, validation or test."
        ),
    ] = "test",
    limit: LimitOption = None,
    retry_errors: Annotated[
        bool,
        typer.Option(
            "--retry-errors",
            rich_help_panel=TEACHER,
            help="Ask again where a call failed (timeouts, 429s, 5xx, broken or refused answers).",
        ),
    ] = False,
    batch: BatchOption = False,
    audio_part: Annotated[
        str,
        typer.Option(
            "--audio-part",
            metavar="KIND",
            rich_help_panel=PROMPT_MORE,
            help="input_audio (base64 WAV) or audio_url (a data: or file:// URL).",
        ),
    ] = "input_audio",
    file_urls: Annotated[
        bool,
        typer.Option(
            "--file-urls",
            rich_help_panel=PROMPT_MORE,
            help="audio_url parts as file:// URLs (vLLM with --allowed-local-media-path).",
        ),
    ] = False,
    sample_rate: Annotated[
        int,
        typer.Option(
            "--sample-rate", metavar="HZ", rich_help_panel=PROMPT_MORE, help="Rate of the uploaded mono WAV, in Hz."
        ),
    ] = 16_000,
    temperature: TemperatureOption = 1.0,
    api_key_env: ApiKeyEnvOption = "OPENAI_API_KEY",
    max_tokens: MaxTokensOption = None,
    concurrency: ConcurrencyOption = 8,
    rpm: RpmOption = None,
    tpm: TpmOption = None,
    timeout: TimeoutOption = 120.0,
    max_retries: MaxRetriesOption = 6,
    batch_file_only: BatchFileOnlyOption = False,
    batch_results: BatchResultsOption = None,
    batch_poll: BatchPollOption = 30.0,
    batch_wait: BatchWaitOption = True,
    cache: CacheOption = None,
    progress: ProgressOption = True,
    readout: ReadoutOption = "text",
    top_logprobs: Annotated[
        int,
        typer.Option(
            "--top-logprobs",
            min=1,
            rich_help_panel=PROMPT_MORE,
            help="Alternatives per token with --readout logprobs (OpenAI and vLLM allow 20).",
        ),
    ] = 20,
) -> None:
    """Write predictions.jsonl: the model's answers to the exact student prompt, parsed; reruns resume."""
    # Imported here: every command imports this module, and the client and audio libraries are predict's alone.
    from cotgen.predict.run import PredictConfig, run_predict

    config = PredictConfig(
        model=model,
        run_dir=run_dir,
        base_url=base_url,
        api_key_env=api_key_env,
        samples=samples,
        temperature=temperature,
        max_tokens=max_tokens,
        ids=ids,
        export=export,
        split=split,
        limit=limit,
        out=output,
        audio_part=audio_part,
        file_urls=file_urls,
        sample_rate=sample_rate,
        concurrency=concurrency,
        rpm=rpm,
        tpm=tpm,
        timeout=timeout,
        max_retries=max_retries,
        cache=cache,
        retry_errors=retry_errors,
        progress=progress,
        batch=batch,
        batch_file_only=batch_file_only,
        batch_results=batch_results,
        batch_poll=batch_poll,
        batch_wait=batch_wait,
        readout=readout,
        top_logprobs=top_logprobs,
    )
    summary = run_predict(config, console=err_console)
    errors = ", ".join(f"{reason} {n}" for reason, n in summary.errors.items()) or "none"
    usage = summary.usage
    print_batch(usage.get("batch"))
    if summary.logprob_readouts:
        read = ", ".join(f"{reason} {n}" for reason, n in summary.logprob_readouts.items())
        console.print(f"logprob readout: {read}", markup=False, highlight=False)
    console.print(
        f"{summary.out}: {summary.lines} predictions, {summary.parsed} parsed, errors: {errors} "
        f"[this run: {summary.new} new, {summary.skipped} already done, dropped {summary.dropped or 'none'}]",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"requests {usage.get('requests', 0)}, cache hits {usage.get('cache_hits', 0)}, tokens "
        f"{usage.get('prompt_tokens', 0):,} in / {usage.get('completion_tokens', 0):,} out, "
        f"n honoured: {summary.n_honoured if summary.n_honoured is not None else 'not asked'}, {summary.wall_s:.1f} s",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
