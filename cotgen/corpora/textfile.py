"""Reading a corpus's CSV files as UTF-8 text, with a file that is not UTF-8 as one line naming file and line.

Corpus label files pass through spreadsheets, which save them as UTF-16 or Latin-1; Python's text
mode then fails with a UnicodeDecodeError traceback that names neither the file nor the line (it
decodes in blocks). Decoding one line at a time knows both, so the user is told where to look.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from cotgen.core.errors import CotgenError

_BOM = "\ufeff"


@contextmanager
def utf8_lines(path: Path) -> Iterator[Iterator[str]]:
    """The lines of ``path`` as text (line endings kept, as ``csv`` wants), a leading BOM dropped.

    A line that is not UTF-8 raises :class:`CotgenError` ``<path>:<line>: not UTF-8 text (byte 0x..)``
    when the reader reaches it.
    """
    with path.open("rb") as handle:
        yield _decoded(path, handle)


def _decoded(path: Path, handle: BinaryIO) -> Iterator[str]:
    for lineno, raw in enumerate(handle, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = raw[exc.start : exc.start + 1].hex()
            raise CotgenError(f"{path}:{lineno}: not UTF-8 text (byte 0x{bad}); save the file as UTF-8") from None
        yield text.removeprefix(_BOM) if lineno == 1 else text
