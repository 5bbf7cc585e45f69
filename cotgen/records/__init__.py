"""The data contracts between stages: utterances, the tagged trace (model, rendering, parser), the
line models of a run folder and the JSON Schemas generated from them (docs/architecture.md)."""
