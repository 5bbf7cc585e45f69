"""Exports of a run folder for the trainers people fine-tune audio-language models with.

- :mod:`~cotgen.export.writer`: ``export_run``, which ties the rest together and writes the files;
- :mod:`~cotgen.export.trl`, :mod:`~cotgen.export.llamafactory`, :mod:`~cotgen.export.swift`: one
  trainer's rows each (:mod:`~cotgen.export.tagged` holds what the two ``<audio>``-tag formats share);
- :mod:`~cotgen.export.messages`: the student prompt taken apart, answers, audio path rewriting;
- :mod:`~cotgen.export.splits`: train/validation/test without speaker leakage;
- :mod:`~cotgen.export.record_readers`: reading a run folder (also used by the card, stats and publish).
"""
