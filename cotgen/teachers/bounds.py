"""How much of a server's answer is read, and for how long (docs/teacher-contract.md, "Bounds").

Kept apart from the client so that a build's configuration can name the defaults without loading it.
"""

from __future__ import annotations

# The largest answer read: a trace is a few KB, several samples asked with n a few tens of KB.
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
# A request's whole deadline is --timeout plus this: a silent server meets the HTTP client's per-read timeout
# first (which tells a server never reached from one that went quiet), a trickling one meets the deadline.
DEADLINE_GRACE_S = 1.0
