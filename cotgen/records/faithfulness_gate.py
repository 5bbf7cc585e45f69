"""The faithfulness gate a build applies by default, in a module that imports nothing.

One number read by the build (``--min-faithfulness``'s default, shown by ``cotgen build --help`` without loading
the build), the dataset card (its faithfulness figure is the share of traces at the gate the run used) and the
docs. Here, not in :mod:`cotgen.build.outcome`, so that reading it costs no import of the build.
"""

# "moderate" for every cue scores about 0.4 on the demo corpus and fails it, a trace citing what was measured
# scores 1.0 (docs/build.md, tests/test_faithfulness.py). 0 switches the gate off.
DEFAULT_MIN_FAITHFULNESS = 0.75
