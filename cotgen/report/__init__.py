"""What a run says about itself: the Hub dataset card, ``cotgen stats`` tables and the plots
(docs/architecture.md)."""
