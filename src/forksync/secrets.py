"""Secret redaction: every text that leaves the process goes through `redact`.

Secrets are known two ways: the values of environment variables whose names say they are
secret (…TOKEN, …KEY, …SECRET, …PASSWORD, …WEBHOOK…, and any named in the config), and
well-known token shapes (GitHub, Anthropic, OpenAI, Slack, GitLab, bearer headers).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

MASK = "[REDACTED]"
_SECRET_NAME = re.compile(r"(TOKEN|_KEY|KEY_|SECRET|PASSWORD|PASSWD|WEBHOOK|PRIVATE|CREDENTIAL|AUTH)", re.I)
_SHAPES = re.compile(
    r"(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|sk-ant-[A-Za-z0-9_-]{10,}|sk-[A-Za-z0-9_-]{20,}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}|glpat-[A-Za-z0-9_-]{15,}|hooks\.slack\.com/services/[A-Za-z0-9/]+"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"
    r"|(?<=[Bb]earer )[A-Za-z0-9._~+/=-]{12,}|(?<=://)[^/\s:@]+:[^/\s@]+(?=@))"
)
_extra: set[str] = set()


def register(*values: str | None) -> None:
    """Add values known to be secret (e.g. a token read from a file or minted at run time)."""
    for value in values:
        if value and len(value) >= 6:
            _extra.add(value)


def secret_env_names(extra_names: Iterable[str] = ()) -> set[str]:
    names = {n for n in os.environ if _SECRET_NAME.search(n)}
    return names | {n for n in extra_names if n}


def _known_values() -> list[str]:
    values = {os.environ[n] for n in secret_env_names() if n in os.environ}
    values |= _extra
    return sorted((v for v in values if len(v) >= 6), key=len, reverse=True)


def redact(text: str) -> str:
    if not text:
        return text
    for value in _known_values():
        if value in text:
            text = text.replace(value, MASK)
    return _SHAPES.sub(MASK, text)


def scrubbed_env(keep: Iterable[str] = ()) -> dict[str, str]:
    """The environment minus every secret, for commands that run untrusted code (checks)."""
    keep_set = set(keep)
    return {k: v for k, v in os.environ.items() if k in keep_set or not _SECRET_NAME.search(k)}
