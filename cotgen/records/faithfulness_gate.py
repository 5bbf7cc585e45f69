"""The faithfulness gate a build applies by default and the one a run applied, in a module light to import.

One number read by the build (``--min-faithfulness``'s default, shown by ``cotgen build --help`` without loading
the build), the dataset card (its faithfulness figure is the share of traces at the gate the run used) and the
docs. Here, not in :mod:`cotgen.build.outcome`, so that reading it costs no import of the build.
"""

# "moderate" for every cue scores about 0.4 on the demo corpus and fails it, a trace citing what was measured
# scores 1.0 (docs/build.md, tests/test_faithfulness.py). 0 switches the gate off.
DEFAULT_MIN_FAITHFULNESS = 0.75


def run_gate(config: object) -> float:
    """The gate a run's build applied, from ``run.json``'s ``config``: the share every report counts traces at.

    A run built with the gate off (0) or before it existed (absent) is reported at the default gate, so its card
    still says how many of its traces would pass it.
    """
    value = config.get("min_faithfulness") if isinstance(config, dict) else None
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if is_number and 0 < value <= 1 else DEFAULT_MIN_FAITHFULNESS
