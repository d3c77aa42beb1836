"""Secret redaction: every text that leaves the process goes through `redact`.

Secrets are known three ways: the values of environment variables whose names say they are
secret (…TOKEN, …KEY, …SECRET, …PASSWORD, …WEBHOOK…, …_PAT, and every name a `*-env` config
key gives, registered by `register_config`), values registered at run time (minted tokens,
the checkout's `http.extraheader` credential, passwords in URLs), and well-known token shapes
(GitHub, Anthropic, OpenAI, Slack, GitLab, bearer headers, private keys, URL user-info).

`redact` is linear in the length of the text: repository content is attacker-controlled, and a
backtracking pattern over it would let a release stall the run (an unterminated private key
of 256 kB once took 26 s).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

MASK = "[REDACTED]"
_SECRET_NAME = re.compile(
    r"(TOKEN|_KEY|KEY_|SECRET|PASSWORD|PASSWD|WEBHOOK|PRIVATE|CREDENTIAL|AUTH|_PAT$|^PAT$|_PAT_)", re.I
)
# Every quantifier is either bounded or over a class that cannot overlap what follows it, so
# the scan is linear: no pattern here can backtrack over an unbounded span more than once.
_SHAPES = re.compile(
    r"(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|sk-ant-[A-Za-z0-9_-]{10,}|sk-[A-Za-z0-9_-]{20,}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}|glpat-[A-Za-z0-9_-]{15,}|hooks\.slack\.com/services/[A-Za-z0-9/]+"
    r"|(?<=[Bb]earer )[A-Za-z0-9._~+/=-]{12,}"
    r"|(?<=://)[^/\s:@]{1,256}:[^/\s@]{1,1024}(?=@))"
)
_KEY_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----")
_KEY_END = re.compile(r"-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----")
# scheme://user:password@host: the password (and the whole user-info) is a credential.
_URL_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)([^/@\s]*)@")
_extra: set[str] = set()
_extra_names: set[str] = set()


def register(*values: str | None) -> None:
    """Add values known to be secret (e.g. a token read from a file or minted at run time)."""
    for value in values:
        if value and len(value) >= 6:
            _extra.add(value)


def register_names(*names: str | None) -> None:
    """Environment variables whose values are secret whatever they are called."""
    _extra_names.update(n for n in names if n)


def secret_env_names(extra_names: Iterable[str] = (), env: Mapping[str, str] | None = None) -> set[str]:
    env = os.environ if env is None else env
    names = {n for n in env if _SECRET_NAME.search(n) or _url_password(env[n])}
    return names | _extra_names | {n for n in extra_names if n}


def _url_password(value: str) -> str | None:
    """The user-info of a URL that carries a password or token (`https://user:tok@host`)."""
    m = _URL_USERINFO.match(value.strip())
    return m.group(2) if m and ":" in m.group(2) else None


def strip_credentials(url: str) -> str:
    """`https://user:token@host/x` → `https://host/x`; any other text is returned unchanged.

    The user-info is registered as a secret first, so a copy printed elsewhere is masked too.
    scp-style `git@host:path` and `ssh://git@host/path` have no secret in them and are kept.
    """
    m = _URL_USERINFO.match(url.strip())
    web = m is not None and m.group(1).lower() in ("http://", "https://")
    if m is None or not (web or ":" in m.group(2)):
        return url  # ssh://git@host/x: a user name, not a secret
    info = m.group(2)
    register(info, *info.split(":", 1)[1:])  # over https a lone user name is usually a token
    return m.group(1) + url.strip()[m.end() :]


def env_key_names(config: Any) -> set[str]:
    """Every environment variable named by a `*-env` key anywhere in the config (msgspec Structs)."""
    found: set[str] = set()
    if isinstance(config, list | tuple):
        for item in config:
            found |= env_key_names(item)
        return found
    fields = getattr(type(config), "__struct_fields__", None)
    if not isinstance(fields, tuple):
        return found
    for name in fields:
        value = getattr(config, name, None)
        if name.endswith("_env") and isinstance(value, str) and value:
            found.add(value)
        else:
            found |= env_key_names(value)
    return found


def register_config(config: Any) -> None:
    """Register every secret the config names; call before the first subprocess runs."""
    register_names(*env_key_names(config))
    for name in secret_env_names():
        value = os.environ.get(name, "")
        register(value)
        info = _url_password(value)
        if info:
            register(info, *info.split(":", 1)[1:])


def register_checkout(repo: Path) -> None:
    """The credential actions/checkout leaves in `http.<url>.extraheader` (and its base64 form)."""
    try:
        res = subprocess.run(
            ["git", "config", "--get-regexp", r"^http\..*extraheader$"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return
    for line in res.stdout.splitlines():
        register_header(line.split(" ", 1)[-1])


def register_header(header: str) -> None:
    """`AUTHORIZATION: basic <b64>` → the base64, the decoded `user:token` and the token."""
    credential = header.split(":", 1)[-1].strip()
    scheme, _, value = credential.partition(" ")
    value = value.strip() or scheme
    register(value)
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return
        register(decoded, *decoded.split(":", 1)[1:])


def _known_values() -> list[str]:
    values = {os.environ[n] for n in secret_env_names() if n in os.environ}
    values |= _extra
    return sorted((v for v in values if len(v) >= 6), key=len, reverse=True)


def _mask_private_keys(text: str) -> str:
    """Each `BEGIN … PRIVATE KEY` block masked up to its END, or to the end of the text when
    unterminated; one forward scan, whatever the number of BEGIN lines."""
    out: list[str] = []
    pos = 0
    while True:
        begin = _KEY_BEGIN.search(text, pos)
        if begin is None:
            out.append(text[pos:])
            return "".join(out)
        out.append(text[pos : begin.start()] + MASK)
        end = _KEY_END.search(text, begin.end())
        if end is None:
            return "".join(out)
        pos = end.end()


def redact(text: str) -> str:
    if not text:
        return text
    for value in _known_values():
        if value in text:
            text = text.replace(value, MASK)
    if "PRIVATE KEY-----" in text:
        text = _mask_private_keys(text)
    return _SHAPES.sub(MASK, text)


def is_secret_var(name: str, value: str) -> bool:
    """Whether a child process must not inherit this variable."""
    return (
        bool(_SECRET_NAME.search(name))
        or name in _extra_names
        or _url_password(value) is not None
        or (len(value) >= 6 and value in _extra)
    )


def scrubbed_env(keep: Iterable[str] = ()) -> dict[str, str]:
    """The environment minus every secret, for commands that run untrusted code (checks).

    Stable API (the sandbox calls it): drops secret-named variables, every variable a `*-env`
    config key names, URLs with a password, and any variable holding a registered secret.
    """
    keep_set = set(keep)
    return {k: v for k, v in os.environ.items() if k in keep_set or not is_secret_var(k, v)}
