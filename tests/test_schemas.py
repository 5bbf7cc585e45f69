"""The committed JSON Schemas are exactly what the pydantic models generate."""

from cotgen.records.schemas import SCHEMAS_DIR, render_schemas


def test_committed_schemas_match_models():
    expected = render_schemas()
    on_disk = {path.name: path.read_text(encoding="utf-8") for path in SCHEMAS_DIR.glob("*.schema.json")}
    stale = sorted(name for name in expected if on_disk.get(name) != expected[name])
    extra = sorted(set(on_disk) - set(expected))
    assert not stale, f"schemas out of date (run `python -m cotgen.records.schemas`): {stale}"
    assert not extra, f"schema files without a model: {extra}"
