"""Gold checks measured (run on demand: ``python tests/benchmarks/bench_gold_checks.py``).

1. Leak detector false positives: the share of golds flagged ``leaks_target`` (first answers) on the demo build
   (template teacher) and on a loopback build of U utterances whose teacher writes legitimate reasoning in varied
   words — hedged listeners ("a listener might hear anger"), the transcript's words and numbers quoted, the
   measurements with their units and z-scores, "given the rising pitch". Every flag there is a false positive.
2. Unfaithful repair turn: a loopback teacher that misreads a share of the measured levels (default 20 %, two
   steps off, chosen by a hash of the utterance and cue) and cites the measured levels when a repair turn lists
   them. Built with ``--repairs 0`` (no repair turn: the behaviour before issue 23) and with the default, it
   prints rejects and requests per item for both.

Options: ``--utterances U`` (default 200), ``--misread P`` (default 0.2), ``--workdir DIR`` (default a temporary
folder).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loopback_server import LoopbackServer, message_text, trace_responder  # noqa: E402
from make_manifest import write_manifest  # noqa: E402

from cotgen.build.run import BuildConfig, BuildSummary, run_build  # noqa: E402
from cotgen.records.trace import INTONATION_LEVELS, LEVELS  # noqa: E402

LEGITIMATE = (
    "A listener might hear {top} in this delivery.",
    "Given the {cue} being {level}, {top} is the most plausible reading.",
    "Listeners could reasonably hear more than one emotion here.",
    "The speaker's words, {quote}, fit {top}.",
    "Most listeners would hear this as {top}, though the cues are mixed.",
    "The {cue} is {level} (z = {z}), which fits {top}.",
    "Two cues point to {top} and one points elsewhere.",
    "An attentive listener would notice the {cue}.",
)
_LEVEL_LINE = re.compile(r"Measured level of each cue[^:]*:\s*(?P<levels>[^\n]+)")
_REPAIRED = re.compile(r"(?P<cue>[a-z_]+) cited '[^']+', measured '(?P<level>[^']+)'")
_Z = re.compile(r"\(z = (-?\d+\.\d+)\)")


def _digest(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\0".join(parts).encode()).digest()[:8], "big")


def _first_user(body: dict) -> str:
    return next(message_text(m) for m in body["messages"] if m["role"] == "user")


def _measured(body: dict) -> dict[str, str]:
    m = _LEVEL_LINE.search(_first_user(body))
    if m is None:
        return {}
    pairs = (part.split(":", 1) for part in m["levels"].split(";") if ":" in part)
    return {cue.strip(): level.strip() for cue, level in pairs}


def legitimate_teacher(body: dict, classes: tuple[str, ...]) -> dict[str, Any]:
    """The stock answer, its explanation and observations reworded by a hash of the prompt, never leaking."""
    answer = trace_responder(body, classes)
    prompt = _first_user(body)
    seed = _digest(prompt)
    top = max(answer["distribution"], key=answer["distribution"].get)
    quote = re.search(r'Transcript \(data, not instructions\): ("[^"\n]*")', prompt)
    zs = _Z.findall(prompt) or ["0.5"]
    cues = answer["acoustic"]["cues"]
    fill = {
        "top": top,
        "cue": cues[0]["cue"].replace("_", " "),
        "level": cues[0]["level"],
        "quote": quote[1] if quote else '"(none)"',
        "z": zs[seed % len(zs)],
    }
    answer["ambiguity"]["explanation"] = " ".join(
        LEGITIMATE[(seed >> (4 * i)) % len(LEGITIMATE)].format(**fill) for i in range(2)
    )
    for i, cue in enumerate(cues):
        cue["observation"] = LEGITIMATE[(seed >> (3 * i + 1)) % len(LEGITIMATE)].format(**fill)
    return answer


def misreading_teacher(share: float) -> Callable[[dict, tuple[str, ...]], dict[str, Any]]:
    """Cites each measured level, except a ``share`` of them read two steps off; a repair turn's levels are obeyed."""

    def respond(body: dict, classes: tuple[str, ...]) -> dict[str, Any]:
        answer = trace_responder(body, classes)
        top = max(answer["distribution"], key=answer["distribution"].get)
        prompt = _first_user(body)
        last = message_text(body["messages"][-1])
        corrected = {m["cue"]: m["level"] for m in _REPAIRED.finditer(last)} if "unfaithful:" in last else None
        cues = []
        for cue, level in _measured(body).items():
            cited = level
            if corrected is not None:
                cited = corrected.get(cue, level)
            elif _digest(prompt, cue) % 1000 < share * 1000:
                scale = INTONATION_LEVELS if cue == "intonation" else LEVELS
                cited = scale[(scale.index(level) + 2) % len(scale)]
            cues.append({"cue": cue, "level": cited, "observation": "As heard.", "suggests": [top]})
        if cues:
            answer["acoustic"]["cues"] = cues
        return answer

    return respond


def _build(srv: LoopbackServer, out: Path, cache: Path, root: Path | None, **options: Any) -> BuildSummary:
    corpus = {"corpus": "manifest", "root": root} if root is not None else {}
    config = BuildConfig(
        teacher="openai:loopback",
        base_url=srv.base_url,
        out=out,
        cache=cache,
        progress=False,
        concurrency=8,
        **corpus,
        **options,
    )
    return run_build(config)


def _first_turn_leaks(srv: LoopbackServer) -> int:
    return sum(
        1
        for r in srv.chat_requests
        if sum(m["role"] == "assistant" for m in r.body["messages"]) == 1
        and message_text(r.body["messages"][-1]).startswith("Your answer is not valid: leaks_target")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=200)
    parser.add_argument("--misread", type=float, default=0.2)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-gold-"))
    cache = work / "cache"
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench")  # the loopback server takes any key

    demo = run_build(BuildConfig(out=work / "demo", cache=cache, progress=False))
    rejects = [json.loads(line) for line in (work / "demo" / "rejects.jsonl").read_text().splitlines()]
    flagged = sum(r["reason"] == "leaks_target" for r in rejects)
    golds = demo.traces + len(rejects)
    print(
        f"demo golds (template teacher): {golds}, flagged leaks_target {flagged}, false-positive rate "
        f"{flagged / golds:.3f}"
    )

    manifest = write_manifest(args.utterances, work / "manifest.csv", unique_transcripts=True)
    with LoopbackServer(responder=legitimate_teacher) as srv:
        summary = _build(srv, work / "legit", cache, manifest)
        first = _first_turn_leaks(srv)
        items = summary.traces + summary.rejects
        print(
            f"loopback golds, legitimate wording: {items} items, first answers flagged {first}, rejected "
            f"leaks_target {summary.reject_reasons.get('leaks_target', 0)}, false-positive rate {first / items:.3f}"
        )

    for label, repairs in (("before (no repair turn)", 0), ("after (one repair turn)", 2)):
        with LoopbackServer(responder=misreading_teacher(args.misread)) as srv:
            summary = _build(srv, work / f"misread-{repairs}", work / f"cache-{repairs}", manifest, repairs=repairs)
            items = summary.traces + summary.rejects
            print(
                f"misreading {args.misread:.0%} of levels, {label}: {items} items, rejects {summary.rejects} "
                f"({summary.reject_reasons}), {summary.rejects / items:.3f} rejects/item, "
                f"{len(srv.chat_requests) / items:.2f} requests/item"
            )


if __name__ == "__main__":
    main()
