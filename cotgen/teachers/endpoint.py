"""Which server a teacher talks to, decided without loading the OpenAI client.

A build records the server's identity in every record's fingerprint, including builds that never
import the client (dry runs, cached reruns), so resolving ``--base-url`` lives here, apart from
:mod:`cotgen.teachers.openai_teacher`.
"""

from __future__ import annotations

import os

from cotgen.core.redact import remember_secrets, url_secrets
from cotgen.records.fingerprint import server_identity

BASE_URL_ENV = "OPENAI_BASE_URL"


def resolve_base_url(base_url: str | None) -> str | None:
    """``--base-url``, else OPENAI_BASE_URL, else None (OpenAI's own endpoint); its credentials are remembered
    as secrets, so no message or file of this process shows them (:mod:`cotgen.core.redact`)."""
    url = base_url or os.environ.get(BASE_URL_ENV) or None
    remember_secrets(url_secrets(url))
    return url


def server_of(base_url: str | None) -> str:
    """The normalised identity of the server ``--base-url`` (or the environment) points at."""
    return server_identity(resolve_base_url(base_url))
