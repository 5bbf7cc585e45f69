"""The review page in a real headless Chromium (Debian's, through chromedriver): it opens from disk with no
console error and no network request, its filters and sorting change the rows, the detail view marks the
planted cue mismatch and plays a clip that exists, and marks downloaded as review.jsonl round-trip into
``cotgen export --review``. The last test opens a 10,000-utterance run and reports its time to first render.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import pandas as pd
import pytest
from browser import chromium, console_errors, needs_chromium, requested_urls, wait_for
from review_run import REJECTED_ID, UNFAITHFUL_CUE, UNFAITHFUL_ID, build_review_run, invoke, lines
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from cotgen.records.review import ReviewRecord
from cotgen.review import write_review

pytestmark = needs_chromium
OFFLINE_SCHEMES = {"file", "data", "blob"}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = build_review_run(tmp_path_factory.mktemp("review-browser"))
    write_review(run)
    return run


def _open(driver: WebDriver, page: Path) -> None:
    driver.get(page.resolve().as_uri())
    wait_for(driver, "window.cotgenReview && window.cotgenReview.firstRenderMs !== null")


def _shown(driver: WebDriver) -> int:
    return int(driver.execute_script("return window.cotgenReview.shown"))


def _cells(driver: WebDriver, column: int) -> list[str]:
    # Read in one script call: a filter re-rendering between two element reads would make them stale.
    return driver.execute_script(
        f"return Array.from(document.querySelectorAll('#rows tr td:nth-child({column})'), td => td.textContent)"
    )


def _set(driver: WebDriver, element_id: str, value: str) -> None:
    """Set a filter as a user would: choose an option, or type and leave the field."""
    element = driver.find_element(By.ID, element_id)
    if element.tag_name == "select":
        Select(element).select_by_value(value)
    elif element.get_attribute("type") == "search":  # filters as the user types (input events)
        element.send_keys(Keys.CONTROL, "a")
        element.send_keys(Keys.BACKSPACE, *([value] if value else []))
    else:  # numbers filter when the field is left (change event)
        element.clear()
        element.send_keys(value, Keys.TAB)


def _open_item(driver: WebDriver, utterance_id: str, source: str) -> None:
    """Filter the table down to one item and open it."""
    _set(driver, "f-text", utterance_id)
    # The search waits for typing to pause, so wait until the rows are this utterance's three items.
    wanted = json.dumps(utterance_id)
    wait_for(
        driver,
        f"Array.from(document.querySelectorAll('#rows tr td:first-child'), td => td.textContent === {wanted})"
        ".filter(Boolean).length === 3 && window.cotgenReview.shown === 3",
    )
    row = next(
        tr
        for tr in driver.find_elements(By.CSS_SELECTOR, "#rows tr")
        if tr.find_elements(By.TAG_NAME, "td")[1].text == source
    )
    row.click()
    title = json.dumps(f"{utterance_id} {source}")
    wait_for(driver, f"(document.querySelector('#detail h2') || {{}}).textContent === {title}")


def test_the_page_opens_from_disk_without_console_errors_or_network_requests(run: Path, tmp_path: Path) -> None:
    with chromium(tmp_path) as driver:
        _open(driver, run / "review" / "index.html")
        assert _shown(driver) == 72 and len(driver.find_elements(By.CSS_SELECTOR, "#rows tr")) == 72
        _open_item(driver, UNFAITHFUL_ID, "gold")
        driver.find_element(By.CSS_SELECTOR, ".samples tbody tr[data-sample='1']").click()
        wait_for(driver, "document.querySelector('#detail h2').textContent.endsWith('sample:1')")
        driver.find_element(By.CSS_SELECTOR, "#table th[data-key='js']").click()
        driver.find_element(By.ID, "close").click()
        assert console_errors(driver) == []
        urls = requested_urls(driver)
    assert any(u.endswith("/data/table.js") for u in urls) and any("/data/detail/00000.js" in u for u in urls)
    assert {urlparse(u).scheme for u in urls} <= OFFLINE_SCHEMES, [
        u for u in urls if urlparse(u).scheme not in OFFLINE_SCHEMES
    ]


def test_filters_change_the_rows_shown(run: Path, tmp_path: Path) -> None:
    traces = lines(run / "traces.jsonl")
    planted = next(t["faithfulness"] for t in traces if (t["id"], t["sample"]) == (UNFAITHFUL_ID, 0))
    assert planted < 1 and sum(t["faithfulness"] < 1 for t in traces) == 1
    with chromium(tmp_path) as driver:
        _open(driver, run / "review" / "index.html")
        cases = [
            ("f-source", "gold", 24, lambda: set(_cells(driver, 2)) == {"gold"}),
            ("f-source", "", 72, None),
            (
                "f-reason",
                "*",
                1,
                lambda: _cells(driver, 1) == [REJECTED_ID] and _cells(driver, 10) == ["schema_invalid"],
            ),
            ("f-reason", "-", 71, None),
            ("f-reason", "", 72, None),
            (
                "f-js",
                "0.3",
                sum(round(t["js"], 4) >= 0.3 for t in traces),
                lambda: all(float(c) >= 0.3 for c in _cells(driver, 6)),
            ),
            ("f-js", "", 72, None),
            (
                "f-faith",
                f"{planted:.2f}",
                sum(round(t["faithfulness"], 4) <= round(planted, 2) for t in traces),
                lambda: (
                    (UNFAITHFUL_ID, "gold") in zip(_cells(driver, 1), _cells(driver, 2))
                    and all(float(c) <= round(planted, 2) for c in _cells(driver, 8))
                ),
            ),
            ("f-faith", "", 72, None),
            (
                "f-amb",
                "high",
                sum(t["trace"]["ambiguity"]["level"] == "high" for t in traces),
                lambda: set(_cells(driver, 9)) == {"high"},
            ),
            ("f-amb", "", 72, None),
            ("f-text", "spk2", 18, lambda: all("spk2" in c for c in _cells(driver, 1))),
        ]
        for element, value, expected, check in cases:
            _set(driver, element, value)
            wait_for(driver, f"window.cotgenReview.shown === {expected}", timeout=10)
            assert len(driver.find_elements(By.CSS_SELECTOR, "#rows tr")) == expected
            assert check is None or check(), f"{element}={value!r} shows the wrong rows"
        assert console_errors(driver) == []


def test_columns_sort_both_ways_with_blanks_last(run: Path, tmp_path: Path) -> None:
    with chromium(tmp_path) as driver:
        _open(driver, run / "review" / "index.html")
        header = driver.find_element(By.CSS_SELECTOR, "#table th[data-key='js']")
        for direction in ("ascending", "descending"):
            header.click()
            wait_for(
                driver,
                f"document.querySelector(\"#table th[data-key='js']\").getAttribute('aria-sort') === '{direction}'",
            )
            cells = _cells(driver, 6)
            values = [float(c) for c in cells if c != "—"]
            assert values == sorted(values, reverse=direction == "descending") and cells[-1] == "—"


@pytest.mark.parametrize("copy", [False, True])
def test_the_detail_marks_the_mismatch_and_plays_a_clip_that_exists(run: Path, tmp_path: Path, copy: bool) -> None:
    page = tmp_path / "page"
    write_review(run, page, copy_audio=copy)
    utterance = next(u for u in lines(run / "utterances.jsonl") if u["id"] == UNFAITHFUL_ID)
    with chromium(tmp_path) as driver:
        _open(driver, page / "index.html")
        _open_item(driver, UNFAITHFUL_ID, "gold")
        mismatched = driver.find_elements(By.CSS_SELECTOR, ".cues tbody.mismatch")
        assert [m.find_element(By.TAG_NAME, "td").text for m in mismatched] == [UNFAITHFUL_CUE]
        assert (
            len(driver.find_elements(By.CSS_SELECTOR, ".cues td.ok"))
            == len(driver.find_elements(By.CSS_SELECTOR, ".cues tbody")) - 1
        )
        human = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".dist tbody tr td:nth-child(2) em")]
        assert human == [f"{utterance['distribution'][c]:.2f}" for c in utterance["distribution"]]
        source = driver.execute_script("return document.getElementById('audio').src")
        duration = wait_for(driver, "document.getElementById('audio').duration")
        assert console_errors(driver) == []
    clip = Path(unquote(urlparse(source).path))
    assert clip.is_file() and clip.read_bytes() == Path(utterance["audio"]).read_bytes()
    assert (clip.parent == (page / "audio").resolve()) is copy and duration > 0


def _mark(driver: WebDriver, utterance_id: str, source: str, verdict: str, note: str = "") -> None:
    _open_item(driver, utterance_id, source)
    if note:
        driver.find_element(By.ID, "note").send_keys(note)
    driver.find_element(By.CSS_SELECTOR, f".mark button[data-verdict='{verdict}']").click()
    wait_for(
        driver,
        f"document.querySelector(\".mark button[data-verdict='{verdict}']\").getAttribute('aria-pressed') === 'true'",
    )


def test_marks_survive_a_reload_download_as_review_jsonl_load_back_and_export_applies_them(
    run: Path, tmp_path: Path
) -> None:
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    ids = [u["id"] for u in lines(run / "utterances.jsonl")]
    rejected, flagged, accepted = ids[0], ids[5], ids[10]
    with chromium(downloads) as driver:
        _open(driver, run / "review" / "index.html")
        _mark(driver, rejected, "gold", "reject", note="laughs, not angry")
        _mark(driver, flagged, "sample:1", "flag")
        _mark(driver, accepted, "gold", "accept")
        driver.refresh()
        _open(driver, run / "review" / "index.html")
        assert driver.find_element(By.ID, "mark-count").text == "3 marked"
        _set(driver, "f-verdict", "reject")
        wait_for(driver, "window.cotgenReview.shown === 1")
        assert _cells(driver, 1) == [rejected] and _cells(driver, 11) == ["reject ✎"]
        driver.find_element(By.ID, "download").click()
        deadline = time.monotonic() + 30
        while not (downloads / "review.jsonl").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert console_errors(driver) == []
    with chromium(tmp_path) as driver:  # a fresh profile: no stored marks until the file is loaded back
        _open(driver, run / "review" / "index.html")
        assert driver.find_element(By.ID, "mark-count").text == "0 marked"
        driver.find_element(By.ID, "load").send_keys(str(downloads / "review.jsonl"))
        wait_for(driver, "document.getElementById('mark-count').textContent === '3 marked'")
        assert driver.find_element(By.ID, "load-status").text == "review.jsonl: 3 marks loaded"
        _set(driver, "f-verdict", "flag")
        wait_for(driver, "window.cotgenReview.shown === 1")
        assert _cells(driver, 1) == [flagged] and _cells(driver, 2) == ["sample:1"]
        assert console_errors(driver) == []
    marks = [ReviewRecord.model_validate_json(line) for line in (downloads / "review.jsonl").read_text().splitlines()]
    assert {(m.id, m.sample, m.verdict, m.note) for m in marks} == {
        (rejected, 0, "reject", "laughs, not angry"),
        (flagged, 1, "flag", ""),
        (accepted, 0, "accept", ""),
    }
    fingerprints = {(t["id"], t["sample"]): t["fingerprint"] for t in lines(run / "traces.jsonl")}
    assert all(m.fingerprint == fingerprints[(m.id, m.sample)] for m in marks)  # each mark names the text it judged
    output = invoke(
        [
            "export",
            "--format",
            "trl",
            "--in",
            str(run),
            "--out",
            str(tmp_path / "trl"),
            "--review",
            str(downloads / "review.jsonl"),
        ]
    )
    assert "review: 3 traces reviewed, 1 rejected; left out 1 sft" in output
    exported = {r["id"] for p in (tmp_path / "trl").glob("sft_*.jsonl") for r in lines(p)}
    assert rejected not in exported and {flagged, accepted} <= exported


def test_a_screenshot_of_the_page_is_written(run: Path, tmp_path: Path) -> None:
    """The docs' picture is this screenshot: COTGEN_REVIEW_SCREENSHOT=docs/review.png remakes docs/review.png."""
    target = Path(os.environ.get("COTGEN_REVIEW_SCREENSHOT", tmp_path / "review.png"))
    with chromium(tmp_path, width=1280, height=760) as driver:
        _open(driver, run / "review" / "index.html")
        _open_item(driver, UNFAITHFUL_ID, "gold")
        _set(driver, "f-text", "")
        wait_for(driver, "window.cotgenReview.shown === 72")
        viewport = driver.execute_script("return [window.innerWidth, window.innerHeight]")
        assert driver.save_screenshot(str(target))
    header = target.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert [int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")] == viewport


def _replicated_run(run: Path, target: Path, size: int) -> Path:
    """The demo run's records repeated under new ids until the corpus has ``size`` utterances."""
    target.mkdir()
    utterances = lines(run / "utterances.jsonl")
    copies = [(n, utterances[n % len(utterances)]) for n in range(size)]

    def renamed(record: dict, n: int) -> dict:
        return {**record, "id": f"{record['id']}_r{n // len(utterances):04d}"}

    with (target / "utterances.jsonl").open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(renamed(u, n)) + "\n" for n, u in copies)
    for name in ("traces.jsonl", "rejects.jsonl", "dpo.jsonl"):
        by_id: dict[str, list[dict]] = {}
        for record in lines(run / name):
            by_id.setdefault(record["id"], []).append(record)
        with (target / name).open("w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(renamed(r, n)) + "\n" for n, u in copies for r in by_id.get(u["id"], []))
    features = pd.read_parquet(run / "features.parquet").set_index("id")
    table = features.loc[[u["id"] for _, u in copies]].reset_index()
    table["id"] = [renamed(u, n)["id"] for n, u in copies]
    table.to_parquet(target / "features.parquet")
    return target


def test_ten_thousand_utterances_open_and_filter(run: Path, tmp_path: Path) -> None:
    """Reports the time to first render (navigation start to the first page of rows drawn) and to filter."""
    big = _replicated_run(run, tmp_path / "big", 10_000)
    started = time.perf_counter()
    summary = write_review(big)
    write_s = time.perf_counter() - started
    assert (summary.utterances, summary.traces + summary.rejects, summary.chunks) == (10_000, 30_000, 100)
    with chromium(tmp_path) as driver:
        _open(driver, big / "review" / "index.html")
        first_render_ms = driver.execute_script("return window.cotgenReview.firstRenderMs")
        assert _shown(driver) == 30_000 and len(driver.find_elements(By.CSS_SELECTOR, "#rows tr")) == 100
        assert driver.find_element(By.ID, "page").text == "page 1 of 300"
        _set(driver, "f-js", "0.3")
        wait_for(driver, "window.cotgenReview.lastFilterMs !== null")
        filter_ms = driver.execute_script("return window.cotgenReview.lastFilterMs")
        assert 0 < _shown(driver) < 30_000 and all(float(c) >= 0.3 for c in _cells(driver, 6))
        _set(driver, "f-js", "")
        _set(driver, "f-text", "spk2_03_r0400")
        wait_for(driver, "window.cotgenReview.shown === 3")
        search_ms = driver.execute_script("return window.cotgenReview.lastFilterMs")
        driver.find_element(By.CSS_SELECTOR, "#rows tr").click()
        wait_for(driver, "document.querySelector('#detail h2') !== null")
        assert console_errors(driver) == []
    size_mb = sum(p.stat().st_size for p in (big / "review").rglob("*") if p.is_file()) / 1e6
    print(
        f"\nreview at 10,000 utterances: write {write_s:.1f} s, {size_mb:.0f} MB;"
        f" first render {first_render_ms:.0f} ms, JS filter {filter_ms:.0f} ms, first text search {search_ms:.0f} ms"
    )


def test_a_full_browser_storage_is_said_and_the_marks_stay_downloadable(run: Path, tmp_path: Path) -> None:
    first = lines(run / "utterances.jsonl")[0]["id"]
    with chromium(tmp_path) as driver:
        _open(driver, run / "review" / "index.html")
        # Fill the origin's storage (about 5 MB) with another page's data, as years of file:// pages might.
        driver.execute_script(
            "var block = 'x'.repeat(1 << 20), n = 0;"
            "try { for (;;) { localStorage.setItem('filler' + n, block); n += 1; } } catch (err) {}"
            "var small = 'x'.repeat(1024);"
            "try { for (;;) { localStorage.setItem('filler' + n, small); n += 1; } } catch (err) {}"
        )
        _mark(driver, first, "gold", "reject")
        assert "could not store the marks" in driver.find_element(By.ID, "load-status").text
        assert driver.find_element(By.ID, "mark-count").text == "1 marked"
        driver.find_element(By.ID, "download").click()
        deadline = time.monotonic() + 30
        while not (tmp_path / "review.jsonl").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert console_errors(driver) == []
    (mark,) = [ReviewRecord.model_validate_json(line) for line in (tmp_path / "review.jsonl").read_text().splitlines()]
    assert (mark.id, mark.sample, mark.verdict) == (first, 0, "reject")
