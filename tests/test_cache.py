"""The response cache: keys that change with everything that decides an answer, durable writes, no secrets."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from loopback_server import LoopbackServer

import cotgen.teachers.openai_teacher as teacher_module
import cotgen.teachers.response_cache as cache_module
from cotgen.core.errors import CotgenError
from cotgen.records.trace import response_schema
from cotgen.teachers.openai_teacher import ChatRequest, OpenAITeacher, TeacherConfig
from cotgen.teachers.response_cache import CacheKeys, ResponseCache, canonical_json, default_cache_path

MESSAGES = [{"role": "system", "content": "Explain."}, {"role": "user", "content": "Transcript: fine."}]
PARAMS = {"temperature": 0.7, "max_tokens": 800}
SCHEMA = response_schema(["neu", "sad"])
VALUE = {"text": '{"a": 1}', "finish_reason": "stop", "refusal": None, "usage": {"prompt_tokens": 3}}
SERVER = "http://127.0.0.1:8000/v1"
BASE = {"model": "gpt-4o", "messages": MESSAGES, "params": PARAMS, "schema": SCHEMA, "sample": 0, "server": SERVER}


@pytest.mark.parametrize(
    "change",
    [
        {"model": "gpt-4o-mini"},
        {"messages": [*MESSAGES[:1], {"role": "user", "content": "Transcript: fine!"}]},
        {"messages": MESSAGES[1:]},
        {"params": {"temperature": 1.0, "max_tokens": 800}},
        {"params": {"temperature": 0.7}},
        {"schema": response_schema(["neu", "hap"])},
        {"schema": None},
        {"sample": 1},
        # Two servers serving different models under one name must not share answers (issue 11 item 1).
        {"server": "http://127.0.0.1:8001/v1"},
        {"server": "https://api.openai.com/v1"},
    ],
)
def test_key_changes_with_everything_that_decides_the_answer(change: dict) -> None:
    assert ResponseCache.key(**{**BASE, **change}) != ResponseCache.key(**BASE)


@given(
    params=st.dictionaries(
        st.text(max_size=8), st.floats(allow_nan=False, allow_infinity=False) | st.integers() | st.none(), max_size=6
    ),
    sample=st.integers(0, 10_000),
)
def test_key_ignores_key_order_and_is_a_sha256(params: dict, sample: int) -> None:
    reordered = dict(reversed(list(params.items())))
    messages = [{"content": "x", "role": "user"}]
    same_messages = [{"role": "user", "content": "x"}]
    key = ResponseCache.key("m", messages, params, None, sample, SERVER)
    assert key == ResponseCache.key("m", same_messages, reordered, None, sample, SERVER)
    assert len(key) == 64 and int(key, 16) >= 0
    assert key != ResponseCache.key("m", messages, params, None, sample + 1, SERVER)


@given(
    content=st.text(max_size=40),
    params=st.dictionaries(
        st.text(max_size=8), st.floats(allow_nan=False, allow_infinity=False) | st.none(), max_size=4
    ),
    schema=st.none() | st.sampled_from([SCHEMA, response_schema(["neu", "hap", "ang", "sad"])]),
    sample=st.integers(0, 1000),
)
def test_the_key_is_the_sha256_of_the_whole_request(
    content: str, params: dict, schema: dict | None, sample: int
) -> None:
    """The pre-encoded schema must hash to the very key the whole-dict encoding gives."""
    messages = [{"role": "user", "content": content}]
    whole = {"model": "m", "messages": messages, "params": params, "schema": schema, "sample": sample, "server": SERVER}
    expected = hashlib.sha256(canonical_json(whole).encode("utf-8")).hexdigest()
    encoded = None if schema is None else canonical_json(schema)
    assert ResponseCache.key_encoded("m", messages, params, encoded, sample, SERVER) == expected
    assert ResponseCache.key("m", messages, params, schema, sample, SERVER) == expected


def test_the_client_encodes_the_schema_once_per_class_set_not_per_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded: list[object] = []

    def counting(value: object) -> str:
        encoded.append(value)
        return canonical_json(value)

    monkeypatch.setattr(cache_module, "canonical_json", counting)
    monkeypatch.setattr(teacher_module, "canonical_json", counting)
    with LoopbackServer() as srv, ResponseCache(tmp_path / "responses.sqlite") as cache:
        teacher = OpenAITeacher(TeacherConfig(model="loopback", base_url=srv.base_url), cache)

        async def run() -> None:
            try:
                for sample in range(5):
                    for classes in (("neu", "sad"), ("neu", "hap")):
                        request = ChatRequest(messages=MESSAGES, sample=sample, temperature=0.7, classes=classes)
                        await teacher.chat(request)
            finally:
                await teacher.aclose()

        asyncio.run(run())
    schemas = [v for v in encoded if isinstance(v, dict) and ("properties" in v or "schema" in v)]
    assert len(schemas) == 2, "one encoding per class set, for ten requests"


def test_put_get_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "responses.sqlite"
    key = ResponseCache.key(**BASE)
    with ResponseCache(path) as cache:
        assert cache.get(key) is None and key not in cache
        cache.put(key, VALUE)
        assert cache.get(key) == VALUE and len(cache) == 1
    with ResponseCache(path) as cache:
        assert cache.get(key) == VALUE and key in cache
        cache.put(key, {**VALUE, "text": "newer"})
        assert cache.get(key)["text"] == "newer" and len(cache) == 1


def test_a_put_survives_sigkill_and_is_seen_by_other_processes(tmp_path: Path) -> None:
    path = tmp_path / "responses.sqlite"
    with ResponseCache(path) as cache:
        cache.put("mine", VALUE)
        script = textwrap.dedent(
            f"""
            import os, signal
            from pathlib import Path
            from cotgen.teachers.response_cache import ResponseCache
            cache = ResponseCache(Path({str(path)!r}))
            assert cache.get("mine") == {VALUE!r}
            for i in range(50):
                cache.put(f"theirs-{{i}}", {{"text": str(i)}})
            os.kill(os.getpid(), signal.SIGKILL)
            """
        )
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
        assert proc.returncode == -9, proc.stderr
        assert [cache.get(f"theirs-{i}") for i in range(50)] == [{"text": str(i)} for i in range(50)]
    with ResponseCache(path) as reopened:
        assert len(reopened) == 51


def test_default_path_follows_xdg_and_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_path() == tmp_path / "cotgen" / "responses.sqlite"
    assert default_cache_path(tmp_path / "mine") == tmp_path / "mine" / "responses.sqlite"


def test_unopenable_cache_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(CotgenError, match="cannot open the response cache") as caught:
        ResponseCache(blocker / "responses.sqlite")
    assert str(blocker) in str(caught.value) and "\n" not in str(caught.value)


def test_a_file_that_is_not_a_database_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "responses.sqlite"
    path.write_bytes(b"this is not SQLite " * 100)
    with pytest.raises(CotgenError, match="cannot open the response cache"):
        ResponseCache(path)


def test_the_api_key_never_reaches_the_cache_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sentinel = "sk-SENTINEL-cache-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", sentinel)
    path = tmp_path / "responses.sqlite"
    with LoopbackServer() as srv, ResponseCache(path) as cache:
        teacher = OpenAITeacher(TeacherConfig(model="loopback", base_url=srv.base_url), cache)

        async def run() -> None:
            try:
                for sample in range(3):
                    request = ChatRequest(messages=MESSAGES, sample=sample, temperature=0.7, classes=("neu", "sad"))
                    await teacher.chat(request)
            finally:
                await teacher.aclose()

        asyncio.run(run())
        assert len(cache) == 3
        files = sorted(tmp_path.glob("responses.sqlite*"))  # the database, its WAL and shared memory
        assert path in files
        for file in files:
            assert sentinel.encode() not in file.read_bytes()
    assert sentinel.encode() not in path.read_bytes()


_contents = st.text(max_size=12) | st.sampled_from(["Explain.", "Réponds en JSON.", 'a "quote"\n'])
_messages = st.lists(
    st.fixed_dictionaries({"role": st.sampled_from(["system", "user", "assistant"]), "content": _contents})
    | st.fixed_dictionaries(
        {"role": st.just("system"), "content": _contents}, optional={"name": st.just("x"), "extra": st.none()}
    )
    | st.fixed_dictionaries({"role": st.just("user"), "content": st.lists(st.fixed_dictionaries({"text": _contents}))}),
    max_size=4,
)


@given(
    st.lists(_messages, min_size=1, max_size=4),
    st.dictionaries(st.sampled_from(["temperature", "max_tokens"]), st.floats(0, 2) | st.integers(0, 9), max_size=2),
    st.none() | st.sampled_from([canonical_json(SCHEMA)]),
    st.integers(0, 3),
    st.sampled_from(["m", "modèle"]),
)
def test_a_clients_keys_are_the_keys_of_its_requests(
    requests: list[list[dict]], params: dict, schema_json: str | None, sample: int, model: str
) -> None:
    """CacheKeys encodes the model, the server and each system message once; the keys are key_encoded's."""
    keys = CacheKeys(model, SERVER)
    for messages in requests:  # several requests of one client, sharing system messages
        assert keys.key(messages, params, schema_json, sample) == ResponseCache.key_encoded(
            model, messages, params, schema_json, sample, SERVER
        )
