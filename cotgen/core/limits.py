"""Caps on what one input may cost, in a module light enough for the CLI to read its defaults from.

Each cap has an option to raise it; docs/reliability-performance.md lists them with the threats they stop.
"""

# Longest clip measured by default (--max-audio-seconds raises it): emotion corpora cut speech into utterances of
# seconds (IEMOCAP's longest is 35 s); an hour-long file is a mistake that would take gigabytes to analyse.
MAX_AUDIO_SECONDS = 600.0
