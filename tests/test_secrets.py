"""Secrets: with sentinel values in OPENAI_API_KEY and HF_TOKEN, the whole way through (build with the openai
teacher on the loopback server, pairs, grpo, stats, exports, publish with the Hub intercepted) the sentinels
appear in no output file, not in the response cache's bytes, not in any log and not on stdout/stderr.

To make the test bite, the server answers one request with a 401 whose message quotes the key (as
OpenAI's does), and the intercepted Hub fails one upload with an error that quotes the token; both
must reach the user without the secret. The test also checks that the secrets were really used (the
server saw a bearer key, the Hub calls got the token), so a pass is not a run that never held them.
"""

from __future__ import annotations

import base64
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import huggingface_hub
import pytest
from huggingface_hub import CommitInfo, HfApi
from huggingface_hub.errors import HfHubHTTPError
from loopback_server import RATE_LIMIT, UNAUTHORIZED, Fault, LoopbackServer

from cotgen.cli.main import main

OPENAI_SENTINEL = "sk-proj-SENTINEL-openai-7Qx2Lm9Vb4Kc8Wd1"
HF_SENTINEL = "hf_SENTINELhubtokenZr5Tn3Yp6Gs0"
SENTINELS = (OPENAI_SENTINEL, HF_SENTINEL)


def forms(secret: str) -> list[bytes]:
    """Byte patterns that would reveal ``secret``: itself, its distinctive middle, its base64 (UTF-8 and UTF-16)."""
    middle = secret[len(secret) // 4 : -len(secret) // 4]
    return [
        secret.encode(),
        middle.encode(),
        base64.b64encode(secret.encode()),
        secret.encode("utf-16-le"),
    ]


def leaks(data: bytes) -> list[str]:
    return [f"{secret[:12]}... as {form[:8]!r}" for secret in SENTINELS for form in forms(secret) if form in data]


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The Hub intercepted at HfApi (offline); the second upload fails with an error quoting the token."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    calls: dict[str, Any] = {"tokens": [], "uploads": 0}

    def create_repo(self: HfApi, repo_id: str, **kwargs: Any) -> str:
        calls["tokens"].append(kwargs.get("token") or self.token)
        return f"https://huggingface.co/datasets/{repo_id}"

    def upload_folder(self: HfApi, **kwargs: Any) -> CommitInfo:
        calls["tokens"].append(kwargs.get("token") or self.token)
        calls["uploads"] += 1
        if calls["uploads"] == 2:
            request = httpx2.Request("POST", "https://huggingface.co/api/datasets/x/commit/main")
            response = httpx2.Response(401, request=request)
            raise HfHubHTTPError(f"401 Client Error: Invalid token {HF_SENTINEL} for this repo", response=response)
        return CommitInfo(
            commit_url=f"https://huggingface.co/datasets/{kwargs['repo_id']}/commit/abc",
            commit_message=kwargs["commit_message"],
            commit_description="",
            oid="abc",
            pr_url=None,
        )

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    return calls


def test_no_secret_reaches_a_file_a_log_or_the_terminal(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    hub: dict[str, Any],
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_SENTINEL)
    monkeypatch.setenv("HF_TOKEN", HF_SENTINEL)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    caplog.set_level(logging.DEBUG, logger="cotgen")
    run, cache = tmp_path / "run", tmp_path / "cache"
    shown: list[str] = []

    cotgen = _cli(monkeypatch, capsys, shown)

    plan = [Fault(UNAUTHORIZED), Fault(RATE_LIMIT, retry_after="0")]
    with LoopbackServer(plan=plan) as server:
        build = ["-v", "build", "--teacher", "openai:loopback", "--base-url", server.base_url, "--out", str(run)]
        assert cotgen(*build, "--cache", str(cache), "--samples", "1", "--workers", "1", "--no-progress") == 0
        # pairs asks the run's teacher for counterfactual rationales: the server is still up.
        assert cotgen("-v", "pairs", "--in", str(run)) == 0, shown[-1]
        requests = server.requests
    assert all(r.headers["authorization-present"] == "True" for r in requests), "the key was sent"
    assert all("authorization" not in r.headers for r in requests)
    rejects = (run / "rejects.jsonl").read_text()
    assert "the server rejected the API key from OPENAI_API_KEY (HTTP 401)" in rejects

    assert cotgen("-v", "grpo", "--in", str(run)) == 0
    assert cotgen("-v", "stats", "--in", str(run)) == 0
    for fmt in ("trl", "llamafactory", "swift"):
        assert cotgen("-v", "export", "--format", fmt, "--in", str(run)) == 0
    assert cotgen("-v", "publish", "--in", str(run), "--repo", "someone/emotion-cot", "--private") == 0
    assert cotgen("-v", "publish", "--in", str(run / "export" / "trl"), "--repo", "someone/cot-trl", "--private") == 2
    assert "Hub upload to someone/cot-trl failed" in shown[-1] and "***" in shown[-1]
    assert hub["tokens"] and set(hub["tokens"]) == {HF_SENTINEL}, "the token was handed to the Hub client"

    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"traces.jsonl", "rejects.jsonl", "run.json", "cotgen.log", "dpo.jsonl", "README.md"} <= names
    assert any(p.name.startswith("responses.sqlite") for p in files), "the response cache was written"
    found = {str(p.relative_to(tmp_path)): leaks(p.read_bytes()) for p in files}
    assert {name: why for name, why in found.items() if why} == {}
    assert leaks("".join(shown).encode()) == []
    assert leaks("\n".join(r.getMessage() for r in caplog.records).encode()) == []
    assert leaks(caplog.text.encode()) == []


# Credentials in the server's URL: a user name, a password that must be percent-encoded in a URL, a query key.
URL_USER = "cotgenUSERsentinel41"
URL_PASSWORD = "pa$$:PASSsentinel/77"
URL_QUERY_KEY = "QUERYsentinel9f3Kd2"
URL_SECRETS = (URL_USER, URL_PASSWORD, URL_QUERY_KEY)


def every_form(secret: str) -> list[bytes]:
    """``forms`` plus the URL-encoded spellings and the Basic-auth header's base64 of user:password."""
    from urllib.parse import quote, quote_plus

    found = forms(secret) + [quote(secret, safe="").encode(), quote_plus(secret).encode()]
    if secret in (URL_USER, URL_PASSWORD):
        found.append(base64.b64encode(f"{URL_USER}:{URL_PASSWORD}".encode()))
    return found


def url_leaks(data: bytes) -> list[str]:
    secrets = (*SENTINELS, *URL_SECRETS)
    return [f"{s[:12]}... as {f[:10]!r}" for s in secrets for f in every_form(s) if f in data]


def test_no_credential_of_the_base_url_reaches_a_written_byte(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    hub: dict[str, Any],
) -> None:
    """build, predict, a batch file, pairs, exports, review and publish with credentials in --base-url.

    The server's 403 echoes the request it got: the key, the Basic-auth header and the user:password it decodes
    from it. Every byte written under the test's folder, every log record and the terminal are searched for each
    secret in plain, percent-encoded and base64 form.
    """
    from loopback_server import FORBIDDEN, student_responder

    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_SENTINEL)
    monkeypatch.setenv("HF_TOKEN", HF_SENTINEL)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    caplog.set_level(logging.DEBUG, logger="cotgen")
    run, cache = tmp_path / "run", tmp_path / "cache"
    shown: list[str] = []

    cotgen = _cli(monkeypatch, capsys, shown)

    def with_credentials(url: str) -> str:
        return url.replace("http://", f"http://{URL_USER}:{quote(URL_PASSWORD, safe='')}@")

    from urllib.parse import quote

    with LoopbackServer(plan=[Fault(FORBIDDEN)]) as server:
        url = with_credentials(server.base_url)
        build = ["-v", "build", "--teacher", "openai:loopback", "--base-url", url, "--out", str(run), "--limit", "6"]
        assert cotgen(*build, "--cache", str(cache), "--samples", "1", "--workers", "1", "--no-progress") == 0
        assert server.requests and all(r.headers["authorization-present"] == "True" for r in server.requests)
        # pairs asks the run's teacher (from run.json, whose URL has no credential left) for counterfactuals.
        assert cotgen("-v", "pairs", "--in", str(run)) == 0, shown[-1]
    rejects = (run / "rejects.jsonl").read_text()
    assert "HTTP 403" in rejects and "Authorization: Basic ***" in rejects  # the echo reached the record, blanked
    with LoopbackServer(responder=student_responder) as student:
        predict = ["-v", "predict", "--model", "openai:student", "--in", str(run), "--base-url"]
        assert cotgen(*predict, with_credentials(student.base_url), "--cache", str(cache), "--no-progress") == 0
    # A batch file for vllm run-batch: nothing is sent, the URL (with a key in its query) is only recorded.
    offline = tmp_path / "offline"
    query_url = f"http://{URL_USER}@127.0.0.1:9/v1?api_key={URL_QUERY_KEY}&api-version=2024-06-01"
    batch = ["-v", "build", "--teacher", "openai:loopback", "--base-url", query_url, "--out", str(offline)]
    assert cotgen(*batch, "--limit", "4", "--cache", str(cache), "--batch-file-only", "--no-progress") == 0
    assert "api-version=2024-06-01" in (offline / "run.json").read_text()  # a parameter that is no secret stays

    assert cotgen("-v", "export", "--format", "trl", "--in", str(run)) == 0
    assert cotgen("-v", "review", "--in", str(run)) == 0
    assert cotgen("-v", "publish", "--in", str(run), "--repo", "someone/emotion-cot", "--private") == 0

    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {"run.json", "cotgen.log", "predictions.jsonl", "index.html", "README.md"} <= {p.name for p in files}
    found = {str(p.relative_to(tmp_path)): url_leaks(p.read_bytes()) for p in files}
    assert {name: why for name, why in found.items() if why} == {}
    assert url_leaks("".join(shown).encode()) == []
    assert url_leaks(caplog.text.encode()) == []


def _cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], shown: list[str]) -> Callable[..., int]:
    """``cotgen ARGS`` in this process: its exit status, with what it printed appended to ``shown``."""

    def cotgen(*args: str) -> int:
        monkeypatch.setattr(sys, "argv", ["cotgen", *args])
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
        else:
            code = 0
        captured = capsys.readouterr()
        shown.extend([captured.out, captured.err])
        return code

    return cotgen
