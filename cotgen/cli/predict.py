"""``cotgen predict``: a served student model's answers to the student prompt (thin: see cotgen.predict.run)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cotgen.cli.app import app, console, err_console
from cotgen.cli.batch_options import (
    BatchFileOnlyOption,
    BatchOption,
    BatchPollOption,
    BatchResultsOption,
    BatchWaitOption,
    print_batch,
)
from cotgen.cli.features import CacheOption, ProgressOption
from cotgen.core.paths import DEFAULT_RUN


@app.command("predict")
def predict_command(
    model: Annotated[
        str, typer.Option("--model", help="openai:NAME — the served model, or a LoRA adapter's --lora-modules name.")
    ],
    run_dir: Annotated[Path, typer.Option("--in", help="Run folder whose utterances are asked about.")] = DEFAULT_RUN,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="Server URL, e.g. http://localhost:8000/v1 (vLLM).")
    ] = None,
    api_key_env: Annotated[
        str, typer.Option("--api-key-env", help="Environment variable holding the API key (none needed locally).")
    ] = "OPENAI_API_KEY",
    samples: Annotated[int, typer.Option("--samples", min=1, help="K answers per utterance (samples 1..K).")] = 1,
    temperature: Annotated[float, typer.Option("--temperature", help="Sampling temperature.")] = 1.0,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", help="Completion token limit per answer.")] = None,
    ids: Annotated[
        Path | None, typer.Option("--ids", help="File with the utterance ids to ask about, one a line.")
    ] = None,
    export: Annotated[
        Path | None, typer.Option("--export", help="Export folder whose --split rows say which utterances to ask.")
    ] = None,
    split: Annotated[str, typer.Option("--split", help="With --export: train, validation or test.")] = "test",
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N selected utterances.")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Predictions file. Default: <run>/predictions.jsonl.")
    ] = None,
    audio_part: Annotated[
        str, typer.Option("--audio-part", help="input_audio (base64 WAV) or audio_url (a data: or file:// URL).")
    ] = "input_audio",
    file_urls: Annotated[
        bool,
        typer.Option("--file-urls", help="audio_url parts as file:// URLs (vLLM with --allowed-local-media-path)."),
    ] = False,
    sample_rate: Annotated[int, typer.Option("--sample-rate", help="Rate of the uploaded mono WAV, in Hz.")] = 16_000,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="Requests in flight at once.")] = 8,
    rpm: Annotated[float | None, typer.Option("--rpm", help="At most this many requests per minute.")] = None,
    tpm: Annotated[float | None, typer.Option("--tpm", help="At most this many tokens per minute.")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds before one request times out.")] = 120.0,
    max_retries: Annotated[
        int, typer.Option("--max-retries", min=0, help="Retries of one request (429, 5xx, timeouts).")
    ] = 6,
    retry_errors: Annotated[
        bool,
        typer.Option("--retry-errors", help="Ask again where a call failed (timeout, rate_limited, server_error)."),
    ] = False,
    cache: CacheOption = None,
    progress: ProgressOption = True,
    batch: BatchOption = False,
    batch_file_only: BatchFileOnlyOption = False,
    batch_results: BatchResultsOption = None,
    batch_poll: BatchPollOption = 30.0,
    batch_wait: BatchWaitOption = True,
    readout: Annotated[
        str,
        typer.Option(
            "--readout",
            help="text: the distribution the model writes; logprobs: also the label token's probabilities "
            "(asks the server for logprobs; needs a student trained with the label line).",
        ),
    ] = "text",
    top_logprobs: Annotated[
        int,
        typer.Option(
            "--top-logprobs", min=1, help="Alternatives per token with --readout logprobs (OpenAI and vLLM allow 20)."
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
        out=out,
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
