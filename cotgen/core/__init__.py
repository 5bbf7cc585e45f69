"""Foundations every stage stands on: user errors, default paths, class labels, the divergences,
crash-safe run-folder files and the run log. Imports nothing else of cotgen (docs/architecture.md)."""
