"""``cotgen predict``: the student side of the loop — the trained model's answers to the student prompt.

It sends the exact prompt of the SFT, DPO and GRPO records (:mod:`cotgen.prompts.student`) with
the clip as an audio content part, through the teacher's client, cache and pool, and writes
``predictions.jsonl`` (:class:`cotgen.records.prediction.PredictionRecord`), which ``cotgen eval
--pred`` and ``cotgen pairs --rollouts`` read.
"""

from cotgen.predict.run import PredictConfig, PredictSummary, run_predict

__all__ = ["PredictConfig", "PredictSummary", "run_predict"]
