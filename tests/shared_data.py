"""Where the tests find real CREMA-D label files, and the skip that names exactly what is missing.

They are not part of the repository (CREMA-D's licence is its own): the tests look in ``$COTGEN_CREMA_D_LABELS``,
else in ``shared/data/crema-d`` beside the checkout or beside any folder above it (a git worktree sits deeper).
A test that needs them and does not find them skips, and its reason names the file it looked for and where to get
it, so a skip is never a pointer to a file that is not there.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CREMA_D_SOURCE = "https://github.com/CheyneyComputerScience/CREMA-D (processedResults/, VideoDemographics.csv)"
VOTES = Path("processedResults") / "tabulatedVotes.csv"


def _crema_d_labels() -> Path:
    if os.environ.get("COTGEN_CREMA_D_LABELS"):
        return Path(os.environ["COTGEN_CREMA_D_LABELS"])
    checkout = Path(__file__).resolve().parents[1]
    beside = [folder / "shared" / "data" / "crema-d" for folder in checkout.parents]
    return next((folder for folder in beside if (folder / VOTES).is_file()), beside[0])


SHARED_CREMA_D = _crema_d_labels()
VOTES_FILE = SHARED_CREMA_D / VOTES


def crema_d_skip_reason() -> str:
    """Why a test of the real label files is skipped: the missing path, the variable to set, the source."""
    return (
        f"real CREMA-D label files not found: {VOTES_FILE} does not exist; set COTGEN_CREMA_D_LABELS to a folder "
        f"holding them, from {CREMA_D_SOURCE}"
    )


needs_crema_d = pytest.mark.skipif(not VOTES_FILE.is_file(), reason=crema_d_skip_reason())
