"""Every option that more than one command takes, declared once, and the help panels options are grouped into.

The pattern (follow it when adding an option):

* An option two commands share is one ``Annotated`` alias here, and every command that takes it uses the alias as
  its parameter's annotation, with its own default::

      @app.command("features")
      def features_command(corpus: CorpusOption = DEFAULT_CORPUS, out: OutOption = None, ...) -> None: ...

  Never spell its ``typer.Option(...)`` again in a command: a second spelling drifts (another help, another type,
  another check) and ``tests/test_cli_help.py`` fails when two commands' options of one name are not one alias.
* An option only one command takes is declared in that command's module, once, the same way.
* Every option names its panel (``rich_help_panel``), one of the titles below, by purpose. A :class:`MorePanel`
  is for rarely used options: ``--help`` lists only how many there are and ``--help-all`` shows them, which keeps
  ``cotgen build --help`` short enough to read at 80 columns (cotgen/cli/help_format.py prints the panels).
* Boolean options are flags (``--dry-run``, or a ``--x/--no-x`` pair when the default is on); they take no value.
* ``--out DIR`` is always a folder the command writes into (a run folder, an export folder, a page folder) and a
  command writing one file takes ``--output FILE``; a path of the wrong kind is a one-line usage error.
* A command module imports only typer, rich, ``cotgen.cli`` and import-free constants at its top; the library
  (numpy, pandas, the OpenAI client, ...) is imported inside the command function. ``cotgen --help`` imports
  every command module, and ``tests/test_cli_imports.py`` fails when a help loads a heavy library.

This module registers no command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cotgen.cli.help_format import MorePanel

# Panels, by purpose, in the order a reader needs them.
INPUT = "Input"
OUTPUT = "Output"
TEACHER = "Teacher and server"
SCORING = "Scoring"
CORPUS_MORE = MorePanel("Corpus details")
PROMPT_MORE = MorePanel("Prompts and answers")
SERVER_MORE = MorePanel("Limits, retries and prices")
BATCH_MORE = MorePanel("Batch API")
MEASURE_MORE = MorePanel("Measuring and caching")

DEFAULT_CORPUS = "demo"


def _folder(value: Path | None) -> Path | None:
    """A folder option's path (to read or to write into) must not be an existing file."""
    if value is not None and value.exists() and not value.is_dir():
        raise typer.BadParameter(f"{value} is a file; expected a folder")
    return value


def _file(value: Path | None) -> Path | None:
    """A file option's path (one to read or to write) must not be an existing folder."""
    if value is not None and value.is_dir():
        raise typer.BadParameter(f"{value} is a folder; expected a file")
    return value


# --- the corpus (corpus, features, build, prompt) -------------------------------------------------------------
CorpusOption = Annotated[
    str,
    typer.Option(
        "--corpus",
        metavar="NAME",
        rich_help_panel=INPUT,
        help="iemocap, crema-d, msp-podcast, msp-improv, emo-superb, meld, ravdess, esd, tess, manifest or demo"
        " (see `cotgen corpora`).",
    ),
]
RootOption = Annotated[
    Path | None,
    typer.Option(
        "--root",
        metavar="PATH",
        rich_help_panel=INPUT,
        help="Corpus folder (or the manifest file). Default: bundled (demo), else ./corpora/<name>/, "
        "else $COTGEN_<NAME>_ROOT.",
    ),
]
ClassesOption = Annotated[
    str | None,
    typer.Option(
        "--classes",
        metavar="SET",
        rich_help_panel=INPUT,
        help="Class set: '4' (neu,hap,ang,sad), 'all', or codes like 'neu,hap+exc,ang,sad,fru' ('+' merges).",
    ),
]
SelfEvalOption = Annotated[
    bool,
    typer.Option(
        "--self-eval", rich_help_panel=CORPUS_MORE, help="IEMOCAP: also count the actors' self-evaluations as votes."
    ),
]
OutOfSetOption = Annotated[
    str,
    typer.Option(
        "--out-of-set",
        metavar="RULE",
        rich_help_panel=CORPUS_MORE,
        help="Votes outside the class set: drop-votes (renormalise the rest), other (keep them as class 'oth') "
        "or drop-utterance.",
    ),
]
IncludeNoMajorityOption = Annotated[
    bool,
    typer.Option(
        "--include-no-majority",
        rich_help_panel=CORPUS_MORE,
        help="Keep utterances whose corpus records no majority label (IEMOCAP's and MSP's 'xxx').",
    ),
]
AllowMissingAudioOption = Annotated[
    bool,
    typer.Option(
        "--allow-missing-audio",
        rich_help_panel=CORPUS_MORE,
        help="Keep entries whose audio file is absent (their features then carry the error 'missing file').",
    ),
]
LimitOption = Annotated[
    int | None, typer.Option("--limit", min=1, rich_help_panel=INPUT, help="Only the first N (selected) utterances.")
]

# --- where a command reads and writes ----------------------------------------------------------------------------
RunOption = Annotated[
    Path,
    typer.Option(
        "--in", metavar="RUN", callback=_folder, rich_help_panel=INPUT, help="Run folder to read (what build wrote)."
    ),
]
OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out",
        metavar="DIR",
        callback=_folder,
        rich_help_panel=OUTPUT,
        help="Folder to write into, created if missing. Default: outputs/<corpus>/ (corpus, features, build, "
        "prompt), RUN/export/<format>/ (export), RUN/review/ (review).",
    ),
]
OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output",
        metavar="FILE",
        callback=_file,
        rich_help_panel=OUTPUT,
        help="File to write. Default: RUN/dpo.jsonl (pairs), RUN/grpo.jsonl (grpo), RUN/predictions.jsonl "
        "(predict); eval writes a JSON report only when given one.",
    ),
]
IdsOption = Annotated[
    Path | None,
    typer.Option(
        "--ids",
        callback=_file,
        metavar="FILE",
        rich_help_panel=INPUT,
        help="Only these utterances: one id a line, or a .jsonl file's rows' 'id' (e.g. an export's test file).",
    ),
]
DryRunOption = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        rich_help_panel=OUTPUT,
        help="Say what would be done (build: prompts, tokens, cost; publish: staged files, card) and stop.",
    ),
]
AllowStaleOption = Annotated[
    bool,
    typer.Option(
        "--allow-stale",
        rich_help_panel=OUTPUT,
        help="Use a dpo.jsonl/grpo.jsonl/export made from older traces anyway (warned).",
    ),
]
SeedOption = Annotated[
    int, typer.Option("--seed", rich_help_panel=OUTPUT, help="Seed of the random draw this command makes.")
]

# --- the teacher or student server (build, prompt, predict, batch) ----------------------------------------------
BaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        metavar="URL",
        rich_help_panel=TEACHER,
        help="OpenAI-compatible server, e.g. http://localhost:8000/v1 (vLLM). Default: $OPENAI_BASE_URL, else "
        "OpenAI (batch: where the batches went).",
    ),
]
ApiKeyEnvOption = Annotated[
    str | None,
    typer.Option(
        "--api-key-env",
        metavar="VAR",
        rich_help_panel=SERVER_MORE,
        help="Environment variable holding the API key (a local server needs none; batch: default the build's).",
    ),
]
SamplesOption = Annotated[
    int,
    typer.Option("--samples", metavar="K", min=0, rich_help_panel=TEACHER, help="Answers per utterance (1..K)."),
]
TemperatureOption = Annotated[
    float, typer.Option("--temperature", rich_help_panel=PROMPT_MORE, help="Sampling temperature of the answers.")
]
MaxTokensOption = Annotated[
    int | None, typer.Option("--max-tokens", rich_help_panel=SERVER_MORE, help="Completion token limit per request.")
]
ConcurrencyOption = Annotated[
    int, typer.Option("--concurrency", min=1, rich_help_panel=SERVER_MORE, help="Requests in flight at once.")
]
RpmOption = Annotated[
    float | None, typer.Option("--rpm", rich_help_panel=SERVER_MORE, help="At most this many requests per minute.")
]
TpmOption = Annotated[
    float | None, typer.Option("--tpm", rich_help_panel=SERVER_MORE, help="At most this many tokens per minute.")
]
TimeoutOption = Annotated[
    float,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        rich_help_panel=SERVER_MORE,
        help="Seconds one request may take, its whole answer included (+1 s).",
    ),
]
MaxRetriesOption = Annotated[
    int,
    typer.Option(
        "--max-retries", min=0, rich_help_panel=SERVER_MORE, help="Retries of one request (429, 5xx, timeouts)."
    ),
]
ReadoutOption = Annotated[
    str,
    typer.Option(
        "--readout",
        metavar="READOUT",
        rich_help_panel=SCORING,
        help="text: the distribution the model writes; logprobs: the one read at its label token (predict asks "
        "the server for logprobs; needs a student trained with the label line); both (eval): each, side by side.",
    ),
]
ModeOption = Annotated[
    str | None,
    typer.Option(
        "--mode",
        metavar="MODE",
        rich_help_panel=TEACHER,
        help="rationalize (gold, sample 0), predict (samples 1..K) or both (build's default when K > 0).",
    ),
]
PromptsOption = Annotated[
    Path | None,
    typer.Option(
        "--prompts",
        callback=_folder,
        metavar="DIR",
        rich_help_panel=PROMPT_MORE,
        help="Folder with your own system/rationalize/predict/repair .j2 templates.",
    ),
]
SendAudioOption = Annotated[
    bool,
    typer.Option(
        "--send-audio",
        rich_help_panel=PROMPT_MORE,
        help="Attach the clip (base64 WAV) for audio-capable teachers; schema goes in the prompt.",
    ),
]
NoStructuredOption = Annotated[
    bool,
    typer.Option(
        "--no-structured",
        rich_help_panel=PROMPT_MORE,
        help="Do not send a json_schema response_format (servers without structured outputs).",
    ),
]

# --- the Batch API (build, predict; docs/batch.md) ------------------------------------------------------------------
BatchOption = Annotated[
    bool,
    typer.Option(
        "--batch", rich_help_panel=TEACHER, help="Ask through the OpenAI Batch API (half price, answers within 24 h)."
    ),
]
BatchFileOnlyOption = Annotated[
    bool,
    typer.Option(
        "--batch-file-only",
        rich_help_panel=BATCH_MORE,
        help="Write the requests as a JSONL file for vllm run-batch and stop.",
    ),
]
BatchResultsOption = Annotated[
    Path | None,
    typer.Option(
        "--batch-results",
        callback=_file,
        metavar="FILE",
        rich_help_panel=BATCH_MORE,
        help="Import a vllm run-batch output file (then write what is left).",
    ),
]
BatchPollOption = Annotated[
    float,
    typer.Option(
        "--batch-poll",
        metavar="SECONDS",
        rich_help_panel=BATCH_MORE,
        help="Seconds between the first status checks of a batch (backs off).",
    ),
]
BatchWaitOption = Annotated[
    bool,
    typer.Option(
        "--batch-wait/--no-batch-wait",
        rich_help_panel=BATCH_MORE,
        help="Wait for batches, or submit and stop (rerun collects).",
    ),
]

# --- measuring audio and the cache (features, build, prompt, predict) --------------------------------------------
WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers",
        min=1,
        rich_help_panel=MEASURE_MORE,
        help="Processes measuring audio in parallel (default: all cores).",
    ),
]
MaxAudioSecondsOption = Annotated[
    float,
    typer.Option(
        "--max-audio-seconds",
        min=0.1,
        rich_help_panel=MEASURE_MORE,
        help="Longest clip measured; a longer one (by its header) is a features reject. [default: 600]",
    ),
]
DaskOption = Annotated[
    str | None,
    typer.Option(
        "--dask-scheduler",
        metavar="ADDRESS",
        rich_help_panel=MEASURE_MORE,
        help="Run the extraction on this Dask scheduler (needs cotgen[dask]).",
    ),
]
CacheOption = Annotated[
    Path | None,
    typer.Option(
        "--cache",
        callback=_folder,
        metavar="DIR",
        rich_help_panel=MEASURE_MORE,
        help="Cache folder (default ${XDG_CACHE_HOME:-~/.cache}/cotgen).",
    ),
]
ProgressOption = Annotated[
    bool, typer.Option("--progress/--no-progress", rich_help_panel=MEASURE_MORE, help="Show a progress bar.")
]


# --- what may leave the machine (publish, review, export) --------------------------------------------------------
AllowOutsideRootOption = Annotated[
    bool,
    typer.Option(
        "--allow-outside-root",
        rich_help_panel=INPUT,
        help="Also copy clips that lie outside the corpus root (symlinks resolved); each is listed first.",
    ),
]
# --- folders holding files cotgen did not write (export, review, publish) ---------------------------------------
ForceOption = Annotated[
    bool,
    typer.Option(
        "--force",
        rich_help_panel=OUTPUT,
        help="Write into a folder holding files cotgen did not write (they are kept; same-named ones replaced).",
    ),
]
