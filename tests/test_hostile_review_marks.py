"""Marks read back from the browser's storage are data, never markup: a mark planted in localStorage whose verdict
or note carries HTML runs no script when the page reloads, and a malformed one is ignored with a word."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from browser import chromium, console_errors, needs_chromium, wait_for
from review_run import build_review_run, lines

from cotgen.review import write_review
from cotgen.review.page import run_key

pytestmark = needs_chromium
PAYLOAD = '"><img src=x onerror="window.__planted=1">'


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = build_review_run(tmp_path_factory.mktemp("review-marks"))
    write_review(run)
    return run


def _open(driver, page: Path) -> None:
    driver.get(page.resolve().as_uri())
    wait_for(driver, "window.cotgenReview && window.cotgenReview.firstRenderMs !== null")


def test_a_mark_planted_in_storage_runs_no_script(run: Path, tmp_path: Path) -> None:
    ids = [u["id"] for u in lines(run / "utterances.jsonl")]
    planted = {
        json.dumps([ids[0], 0], separators=(",", ":")): {
            "id": ids[0],
            "sample": 0,
            "verdict": "reject" + PAYLOAD,
            "note": "",
            "reviewed_at": "2026-01-01",
        },
        json.dumps([ids[1], 0], separators=(",", ":")): {
            "id": ids[1],
            "sample": 0,
            "verdict": "flag",
            "note": "</textarea>" + PAYLOAD,
            "reviewed_at": PAYLOAD,
        },
    }
    page = run / "review" / "index.html"
    with chromium(tmp_path) as driver:
        _open(driver, page)
        key = json.dumps("cotgen-review:" + run_key(run))
        driver.execute_script(f"localStorage.setItem({key}, arguments[0])", json.dumps(planted))
        driver.refresh()
        wait_for(driver, "window.cotgenReview && window.cotgenReview.firstRenderMs !== null")
        assert driver.find_element("id", "mark-count").text == "1 marked"  # the bad verdict is dropped
        assert "1 stored marks were malformed" in driver.find_element("id", "load-status").text
        for row in range(3):  # the details of the marked items render the marks' fields too
            driver.execute_script(f"document.querySelectorAll('#rows tr')[{row}].click()")
        wait_for(driver, "document.querySelector('#detail h2') !== null")
        assert driver.execute_script("return window.__planted === undefined")
        assert driver.execute_script("return document.querySelectorAll('img').length") == 0
        assert console_errors(driver) == []
