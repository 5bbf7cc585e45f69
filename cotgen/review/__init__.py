"""``cotgen review``: a static page to listen to, inspect and mark a run's traces before training on them.

:func:`write_review` reads a run folder and writes ``index.html`` with its scripts, styles and data files
(docs/review.md). Everything the page shows that needs a rule (cue agreement, divergences) is computed
here in Python with the code the build uses; the page's scripts only display, sort, filter and store marks.
"""

from cotgen.review.page import ReviewSummary, write_review

__all__ = ["ReviewSummary", "write_review"]
