"""Input fingerprints: one sha256 over everything that decides a record's content.

A record of a run folder (a trace, a reject, a prediction, a derived file) is only as good as the
inputs it was made from. Each records the fingerprint of those inputs, so a rerun can tell an item
whose votes, class set, cues, prompts, teacher, server or parameters changed since (stale: redo it)
from one that is still what the same inputs would give (done: skip it). The functions here are pure
and shared by every stage that writes such records (``cotgen build`` today, ``cotgen predict``).

The response cache keys (:mod:`cotgen.teachers.response_cache`) use the same canonical JSON and the
same server identity, so "same fingerprint" and "same cached answer" agree.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel

# The identity of OpenAI's own endpoint, what a client without --base-url or OPENAI_BASE_URL talks to.
OPENAI_SERVER = "https://api.openai.com/v1"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no insignificant whitespace, so equal content always encodes (and hashes) equally."""
    return _CANONICAL.encode(value)


def fingerprint(parts: Mapping[str, Any]) -> str:
    """The hex sha256 of ``parts`` as canonical JSON.

    NaN is allowed (an unmeasured feature is content too), a pydantic model inside ``parts`` (a dialogue
    context turn, say) counts by its JSON dump and a dataclass (the prompt inputs) by its fields, so a new
    kind of prompt input needs no code here.
    """
    return text_fingerprint(fingerprint_json(dict(parts)))


def fingerprint_json(value: Any) -> str:
    """The canonical JSON :func:`fingerprint` hashes (for a caller that encodes a constant part of it once)."""
    return _FINGERPRINT.encode(value)


def text_fingerprint(text: str) -> str:
    """The hex sha256 of a text's UTF-8 bytes: :func:`fingerprint` of the value :func:`fingerprint_json` encoded."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _model_json(value: Any) -> Any:
    """What the encoder writes for a value JSON has no form for: a pydantic model's JSON dump, a dataclass's fields
    (the encoder sorts them and encodes what they hold), any other mapping as a dict.

    Called from inside the C encoder, so the prompt inputs (a dataclass) are encoded without a Python walk that
    first copies them into dicts and lists: every build item is fingerprinted as it comes up.
    """
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if hasattr(type(value), "__dataclass_fields__") and not isinstance(value, type):
        return {name: getattr(value, name) for name in _field_names(type(value))}
    if isinstance(value, Mapping):
        return {str(key): item for key, item in value.items()}
    raise TypeError(f"{type(value).__name__} is not part of a fingerprint's JSON")


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    """The field names of a dataclass, in declaration order (what :func:`dataclasses.fields` gives, read once)."""
    return tuple(f.name for f in dataclasses.fields(cls))


# The encoders json.dumps builds on every call with these options (json.dumps(value, **options) is
# JSONEncoder(**options).encode(value)), built once: a build encodes several small values per item.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_FINGERPRINT = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True, default=_model_json
)


def server_identity(base_url: str | None) -> str:
    """A server's identity for fingerprints and cache keys: its base URL, normalised, without credentials.

    ``HTTP://Host:80/v1/`` and ``http://host/v1`` are one server; a user:password part, a query and
    a fragment are dropped (they are not the server, and a secret must never reach a record). None is
    OpenAI's own endpoint.
    """
    if not base_url:
        return OPENAI_SERVER
    parts = urlsplit(base_url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: keep the URL's text, it still tells servers apart
        port = None
    shown_port = f":{port}" if port is not None and port != _DEFAULT_PORTS.get(scheme) else ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{scheme}://{host}{shown_port}{parts.path.rstrip('/')}"
