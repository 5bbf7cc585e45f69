"""The response cache: every paid teacher response, keyed by what was asked, so no request is paid twice.

A rerun of a build asks the same questions; looking the answers up here makes it cost zero requests,
and because the *raw* response is stored (text, finish reason, refusal, usage), a change in
validation re-validates cached answers without asking again. The cache is one SQLite file in WAL
mode: each answer is committed the moment it arrives, so a process killed with SIGKILL loses at
most the answer it was receiving, and several processes (parallel builds sharing a cache) can
read and write it at once. Nothing about the credentials reaches the key or the stored value.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from cotgen.core.errors import CotgenError
from cotgen.core.paths import cache_dir
from cotgen.records.fingerprint import canonical_json

CACHE_FILE_NAME = "responses.sqlite"
_BUSY_TIMEOUT_S = 30.0


def default_cache_path(override: Path | None = None) -> Path:
    """The cache file: ``responses.sqlite`` in ``--cache DIR`` when given, else in the user's cache folder."""
    return cache_dir(override) / CACHE_FILE_NAME


class ResponseCache:
    """Raw teacher responses in SQLite, keyed by :meth:`key`; safe across threads, processes and kill -9."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: autocommit, so every put is its own committed transaction.
            self._db = sqlite3.connect(
                self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a killed process (the OS has the pages); only power loss can drop
            # the last commits, which would then simply be asked again.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS responses"
                " (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL NOT NULL)"
            )
        except (OSError, sqlite3.Error) as exc:
            raise CotgenError(f"{self.path}: cannot open the response cache ({exc})") from None
        self._lock = threading.Lock()

    @staticmethod
    def key(
        model: str,
        messages: Sequence[Mapping[str, Any]],
        params: Mapping[str, Any],
        schema: Mapping[str, Any] | None,
        sample: int,
        server: str,
    ) -> str:
        """sha256 of the canonical JSON of everything that decides the answer.

        ``sample`` is part of the key because K samples drawn with identical requests must stay K
        different answers; ``params`` holds the sampling parameters (temperature, max_tokens, ...);
        ``server`` is the server's identity (:func:`cotgen.records.fingerprint.server_identity`), because
        two servers serving different models under one name must not share answers, and a dead server
        must not "answer" from another one's cache.
        """
        schema_json = None if schema is None else canonical_json(schema)
        return ResponseCache.key_encoded(model, messages, params, schema_json, sample, server)

    @staticmethod
    def key_encoded(
        model: str,
        messages: Sequence[Mapping[str, Any]],
        params: Mapping[str, Any],
        schema_json: str | None,
        sample: int,
        server: str,
    ) -> str:
        """:meth:`key` with the schema already encoded by :func:`canonical_json` (None when no schema is sent).

        A client encodes the schema once per class set instead of once per request: on a cached rerun
        that encoding was the largest single cost per item. The hashed text is byte for byte the
        canonical JSON of ``{"messages", "model", "params", "sample", "schema", "server"}`` (keys sorted), so
        both methods give the same key.
        """
        return _key_of(
            canonical_json(messages), canonical_json(model), params, schema_json, sample, canonical_json(server)
        )

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored raw response for ``key``, or None when it was never stored."""
        with self._lock:
            row = self._db.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, value: Mapping[str, Any]) -> None:
        """Store a raw response, committed before returning (a later kill cannot lose it)."""
        text = canonical_json(dict(value))
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, value, created) VALUES (?, ?, ?)", (key, text, time.time())
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        with self._lock:
            return self._db.execute("SELECT 1 FROM responses WHERE key = ?", (key,)).fetchone() is not None

    def close(self) -> None:
        """Close the database; the WAL is checkpointed by SQLite when the last connection closes."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _key_of(
    messages_json: str,
    model_json: str,
    params: Mapping[str, Any],
    schema_json: str | None,
    sample: int,
    server_json: str,
) -> str:
    """The key of a request whose messages, model and server are already encoded by :func:`canonical_json`."""
    payload = "".join(
        (
            '{"messages":',
            messages_json,
            ',"model":',
            model_json,
            ',"params":',
            canonical_json(params),
            ',"sample":',
            canonical_json(sample),
            ',"schema":',
            "null" if schema_json is None else schema_json,
            ',"server":',
            server_json,
            "}",
        )
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class CacheKeys:
    """:meth:`ResponseCache.key_encoded` for one client: its model and server, and each system message, encoded once.

    Every request of a build names the same model and server and starts with one of a few system messages (one
    per class set), a few kilobytes each: encoding those once per client instead of once per request is a
    third of a key's cost on a cached rerun. A list encodes as its items' encodings joined by commas between
    brackets, so the hashed text is byte for byte :meth:`ResponseCache.key_encoded`'s.
    """

    SYSTEM_MESSAGES = 64  # encodings kept (a build has one per class set and schema placement)

    def __init__(self, model: str, server: str) -> None:
        self._model = canonical_json(model)
        self._server = canonical_json(server)
        self._system: dict[str, str] = {}  # a system message's content -> the message's canonical JSON

    def key(
        self, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any], schema_json: str | None, sample: int
    ) -> str:
        """The key of one request of this client (see :meth:`ResponseCache.key_encoded`)."""
        encoded = ",".join(self._message(message) for message in messages)
        return _key_of(f"[{encoded}]", self._model, params, schema_json, sample, self._server)

    def _message(self, message: Mapping[str, Any]) -> str:
        content = message.get("content")
        if message.get("role") != "system" or len(message) != 2 or not isinstance(content, str):
            return canonical_json(message)
        known = self._system.get(content)
        if known is None:
            if len(self._system) >= self.SYSTEM_MESSAGES:
                self._system.clear()
            known = self._system[content] = canonical_json(message)
        return known
