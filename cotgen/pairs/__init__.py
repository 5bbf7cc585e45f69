"""DPO preference pairs scored by divergence from the human votes (``cotgen pairs``).

One job per module: :mod:`.index` finds each utterance's lines in a JSONL file by byte offset
(so pairing streams from disk), :mod:`.candidates` gathers the candidate texts of an utterance,
:mod:`.corrupt` derives corrupted versions of the gold trace, :mod:`.scoring` scores candidates
against the human distribution (vectorised), :mod:`.select` picks chosen and rejected,
:mod:`.build` drives a run and writes ``dpo.jsonl``, :mod:`.summary` aggregates and prints the
counts (recorded in ``run.json`` by :func:`cotgen.core.durable_files.update_run_json`).
"""
