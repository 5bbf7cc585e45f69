"""Exports of a run folder for the trainers people fine-tune audio-language models with.

One module per trainer format (:mod:`~cotgen.export.trl`, :mod:`~cotgen.export.llamafactory`,
:mod:`~cotgen.export.swift`) turns the run's neutral records (``sft.jsonl``, ``dpo.jsonl``,
``grpo.jsonl``) into that trainer's rows; :mod:`~cotgen.export.splits` assigns utterances to
train/validation/test without speaker leakage; :mod:`~cotgen.export.writer` ties them together.
"""
