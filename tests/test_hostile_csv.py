"""A manifest's cells of any length are read, and absurd counts are dropped with a reason, never a traceback."""

from __future__ import annotations

from pathlib import Path

from cotgen.corpora import load_corpus
from cotgen.corpora.entries import MALFORMED_ROW


def test_a_field_longer_than_the_csv_module_allows_is_read(tmp_path: Path, cotgen) -> None:
    for name in ("a.wav", "b.wav"):
        (tmp_path / name).write_bytes(b"RIFF")
    transcript = "word " * 60_000  # 300,000 characters: over csv's default limit of 131,072
    (tmp_path / "m.csv").write_text(
        f'id,audio,transcript,votes\na,a.wav,"{transcript}",neu;hap\nb,b.wav,short,ang\n', encoding="utf-8"
    )
    load = load_corpus("manifest", tmp_path / "m.csv")
    assert [len(u.transcript or "") for u in load.utterances] == [len(transcript.strip()), 5]
    shown = cotgen("corpus", "--corpus", "manifest", "--root", str(tmp_path / "m.csv"))
    assert shown.code == 0 and "Traceback" not in shown.err


def test_counts_no_corpus_could_have_are_dropped_with_their_reason(tmp_path: Path) -> None:
    for name in ("a.wav", "b.wav", "c.wav", "d.wav"):
        (tmp_path / name).write_bytes(b"RIFF")
    (tmp_path / "m.csv").write_text(
        "id,audio,transcript,count_neu,count_hap,n_annotators\n"
        "a,a.wav,x,1e300,1,\n"
        "b,b.wav,x,3,1,1e300\n"
        "c,c.wav,x,inf,1,\n"
        "d,d.wav,x,3,2,5\n",
        encoding="utf-8",
    )
    load = load_corpus("manifest", tmp_path / "m.csv")
    assert [u.id for u in load.utterances] == ["d"]
    details = {d.where.rsplit(":", 1)[1]: d.detail for d in load.dropped if d.reason == MALFORMED_ROW}
    assert "count_neu '1e300' is over 1,000,000" in details["2"]
    assert "n_annotators '1e300' is over 1,000,000" in details["3"]
    assert "must be a finite number" in details["4"]
