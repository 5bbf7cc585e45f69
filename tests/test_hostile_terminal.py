"""What reaches the terminal from input is inert: Rich markup shows as text, escape sequences as their escapes.

A manifest cell holding a clear-screen, an OSC 8 hyperlink and Rich link markup ends in a dropped row's detail,
which ``cotgen corpus`` prints in its table; a --root whose name holds markup ends in an error line. Neither may
put an escape character on the terminal or let Rich turn the markup into a link.
"""

from __future__ import annotations

import json
from pathlib import Path

MARKUP = "[link=x:y]z[/link]"  # Rich markup for a hyperlink
SCREEN = "\x1b[2J\x1b]8;;x:y\x1b\\"  # clear the screen, open an OSC 8 hyperlink


def test_a_hostile_cell_is_shown_not_obeyed(tmp_path: Path, cotgen) -> None:
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    (tmp_path / "b.wav").write_bytes(b"RIFF")
    cell = json.dumps({"neu": MARKUP + SCREEN}).replace('"', '""')  # JSON escapes the controls; the value has them
    (tmp_path / "m.csv").write_text(
        f'id,audio,transcript,distribution\na,a.wav,x,"{cell}"\nb,b.wav,y,"{{""neu"": 1}}"\n', encoding="utf-8"
    )
    shown = cotgen("corpus", "--corpus", "manifest", "--root", str(tmp_path / "m.csv"))
    assert shown.code == 0, shown.err
    # The table wraps the detail over lines between its borders: read it without white space and borders.
    text = "".join(ch for ch in "".join((shown.out + shown.err).split()) if ch not in "│┃")
    assert "\x1b" not in text and "isnotanumber" in text
    assert "\\x1b[2J" in text  # shown as its escape, not obeyed
    assert MARKUP in text  # markup shown as text, not made a link


def test_an_error_naming_a_hostile_path_prints_it_inert(tmp_path: Path, cotgen) -> None:
    markup = "[link=file:evil]click[/link]"  # a path keeps no "//"
    root = tmp_path / f"corpus{markup}\x1b[2J"
    shown = cotgen("corpus", "--corpus", "manifest", "--root", str(root / "m.csv"))
    line = shown.one_error_line()
    assert "\x1b" not in shown.err and markup in line and "\\x1b[2J" in line
