"""``cotgen build``: corpus, features and teacher traces into a run folder (docs/architecture.md).

One job per module: :mod:`.run` drives a build (config, preparation, the builder and its summary),
:mod:`.corpus_columns` keeps the compact corpus columns a build holds in memory, :mod:`.state` the run
state and resume, :mod:`.outcome` the record each item ends as, :mod:`.teach_pool` and
:mod:`.model_teacher` ask a model teacher with validation and repair turns, :mod:`.progress` the
terminal line and :mod:`.cost` the token prices.
"""

from cotgen.build.run import BuildConfig, BuildSummary, run_build

__all__ = ["BuildConfig", "BuildSummary", "run_build"]
