"""cotgen: chain-of-thought datasets for ambiguous speech-emotion reasoning.

The package is organised by pipeline stage (see ``docs/architecture.md``): corpora turn label files
into :class:`~cotgen.records.utterance.Utterance` records, acoustics measures the audio, teachers write
traces, and the later stages turn traces into training records, pairs, rewards and exports.
"""

__version__ = "0.1.0"
