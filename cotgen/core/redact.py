"""Credentials out of everything cotgen writes: the one place URLs and texts are stripped of secrets.

A ``--base-url`` may carry a password (``http://user:secret@host/v1``) or a key in its query
(``?api_key=...``); a server's error body may quote the key, the URL or the Basic-auth header it was sent.
Every URL that reaches ``run.json``, a batch journal, a log, a reject's detail or an error message goes
through :func:`redact_url`; every free text through :func:`redact`, which also blanks each known secret in
the forms it travels in (plain, percent-encoded, base64, and ``user:password`` base64 as Basic auth sends it).

Which secrets are known: the values of environment variables named like secrets, and every secret the
process has resolved (an API key, the credentials of a base URL), which the code resolving it hands to
:func:`remember_secrets`. So a message redacted anywhere, by any stage, blanks all of them.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlencode, urlsplit, urlunsplit

REDACTED = "***"
# Query parameter names whose values are secrets.
SECRET_NAME = re.compile(r"key|token|secret|passw|pwd|auth|credential|signature|^sig$|session|cookie", re.IGNORECASE)
# Environment variable names whose values are secrets (OPENAI_API_KEY, HF_TOKEN, DB_PASSWORD); not PWD, a folder.
SECRET_VARIABLE = re.compile(r"(^|_)(KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASS|CREDENTIALS?)$", re.IGNORECASE)
# A URL inside free text: a scheme, "://", then anything up to white space or a quote/bracket closing it.
URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]{1,15}://[^\s'\"<>`]+")
# Shorter values are not blanked from texts: they would hit ordinary words (URLs holding them still are).
MIN_SECRET_LENGTH = 6
_remembered: set[str] = set()


def redact_url(url: str) -> str:
    """``url`` without user-info or fragment, and with the values of secret-looking query parameters blanked."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, REDACTED if SECRET_NAME.search(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, host, parts.path, query, ""))


def url_secrets(url: str | None) -> list[str]:
    """The secrets a URL carries: its user name and password (and the pair), secret-looking query values."""
    if not url:
        return []
    parts = urlsplit(url)
    found = []
    userinfo, at, _host = parts.netloc.rpartition("@")
    if at:
        user, _colon, password = userinfo.partition(":")
        found += [unquote(user), unquote(password), f"{unquote(user)}:{unquote(password)}"]
    found += [v for k, v in parse_qsl(parts.query, keep_blank_values=True) if SECRET_NAME.search(k)]
    return [s for s in found if len(s) >= MIN_SECRET_LENGTH]


def remember_secrets(secrets: Iterable[str]) -> None:
    """Blank these in every later :func:`redact` of this process (keys and URL credentials as they are resolved)."""
    _remembered.update(s for s in secrets if len(s) >= MIN_SECRET_LENGTH)


def known_secrets() -> list[str]:
    """Every secret this process knows of: remembered ones and the environment's."""
    return sorted(_remembered.union(environment_secrets()), key=len, reverse=True)


def environment_secrets() -> list[str]:
    """Values of environment variables named like secrets (``OPENAI_API_KEY``, ``HF_TOKEN``, ``*_PASSWORD``)."""
    return [v for k, v in os.environ.items() if SECRET_VARIABLE.search(k) and len(v) >= MIN_SECRET_LENGTH]


def secret_forms(secret: str) -> list[str]:
    """The spellings a secret travels in: plain, percent-encoded (both styles) and base64."""
    raw = secret.encode("utf-8")
    forms = {secret, quote(secret, safe=""), quote_plus(secret), base64.b64encode(raw).decode("ascii")}
    forms.add(base64.urlsafe_b64encode(raw).decode("ascii"))
    return sorted(forms, key=len, reverse=True)


def blank_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with each known secret, and each of ``secrets``, blanked in each of its forms; nothing else changed.

    For a model's answers (a batch result file), whose URLs are data, not cotgen's to rewrite.
    """
    for secret in [*secrets, *known_secrets()]:
        if secret:
            for form in secret_forms(secret):
                text = text.replace(form, REDACTED)
    return text


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` (a message, a log line, an error body) with every URL in it redacted and every secret blanked."""
    if "://" in text:
        text = URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
    return blank_secrets(text, secrets)


def recorded_options(config: Any) -> dict[str, Any]:
    """A config dataclass as ``run.json`` records it: paths as text, URLs without credentials.

    Only names of the variables holding keys are options; a key's value never is.
    """
    recorded = {}
    for name, value in dataclasses.asdict(config).items():
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, str) and "://" in value:
            value = redact_url(value)
        recorded[name] = value
    return recorded
