"""Nothing secret written: credentials stripped from URLs, every configured secret redacted,
and `redact` linear in its input (repository text is attacker-controlled)."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest

from forksync import secrets
from forksync.commands.init import render_files
from forksync.commands.sync import execute
from forksync.config import load_config_text
from tests.gitutil import Repo

TOKEN = "tok_Zq8rW2xY5vU1"


@pytest.mark.parametrize(
    "text",
    [
        "-----BEGIN RSA PRIVATE KEY-----\n" + ("QUJD" * 16 + "\n") * 4000,  # unterminated, 256 kB
        "-----BEGIN PRIVATE KEY-----" * 10_000,
        ("-----BEGIN " + "A" * 30) * 8_000,
        ("://" + "a" * 200 + ":" + "b" * 100) * 800,
        "://a:" + "b" * 256_000,
        ("sk-" + "a" * 15 + " ") * 13_000,
    ],
)
def test_redact_is_linear_on_hostile_text(text: str) -> None:
    start = time.monotonic()
    secrets.redact(text)
    assert time.monotonic() - start < 1.0


def test_private_keys_are_masked_terminated_or_not() -> None:
    text = (
        "a -----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY----- b -----BEGIN EC PRIVATE KEY-----\nMII"
    )
    assert secrets.redact(text) == "a [REDACTED] b [REDACTED]"


def test_strip_credentials() -> None:
    assert (
        secrets.strip_credentials(f"https://bot:{TOKEN}@github.com/o/r.git") == "https://github.com/o/r.git"
    )
    assert secrets.strip_credentials("git@github.com:o/r.git") == "git@github.com:o/r.git"
    assert secrets.strip_credentials("/srv/up") == "/srv/up"
    assert secrets.redact(f"see {TOKEN}") == "see [REDACTED]"  # registered on the way


def test_init_never_writes_a_credential_into_the_config() -> None:
    from forksync.workflow import ActionRef

    action = ActionRef("acme/forksync", "0" * 40, "v0.1.0")
    files = render_files(f"https://x-access-token:{TOKEN}@github.com/o/r.git", "main", "github", action)
    assert TOKEN not in files[".forksync.toml"] and "https://github.com/o/r.git" in files[".forksync.toml"]


def test_every_env_key_pat_and_url_password_is_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "FORGE_CRED": "forge-cred-value-1",  # a name that does not look secret: named by token-env
        "HOOK_TARGET": "https://example.invalid/hook/abc123",  # named by webhook-url-env
        "DEPLOY_PAT": "pat-value-456789",
        "DATABASE_URL": "postgres://app:dbpass-778899@db.internal/app",
        "PLAIN": "harmless-value",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    config = load_config_text(
        '[forge]\ntoken-env = "FORGE_CRED"\n[notify]\nwebhook-url-env = "HOOK_TARGET"\n', "c"
    )
    secrets.register_config(config)
    text = " ".join(values.values())
    out = secrets.redact(text)
    for secret in ("forge-cred-value-1", "abc123", "pat-value-456789", "dbpass-778899"):
        assert secret not in out
    assert "harmless-value" in out
    env = secrets.scrubbed_env()
    assert not {"FORGE_CRED", "HOOK_TARGET", "DEPLOY_PAT", "DATABASE_URL"} & set(env) and "PLAIN" in env


def test_the_checkouts_extraheader_credential_is_registered(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    token = "ghs_checkout0token0value0123"[:20] + "zz"
    b64 = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    repo.git("config", "http.https://github.com/.extraheader", f"AUTHORIZATION: basic {b64}")
    secrets.register_checkout(repo.path)
    out = secrets.redact(f"header {b64} and token {token}")
    assert b64 not in out and token not in out


def test_a_credential_in_the_upstream_url_is_never_stored(tmp_path: Path) -> None:
    up = Repo(tmp_path / "up")
    up.commit({"a.txt": "a\n", "pyproject.toml": '[project]\nname = "x"\nversion = "1.0.0"\n'}, "init")
    up.tag("v1.0.0")
    fork = Repo(tmp_path / "fork")
    fork.git("fetch", "-q", str(up.path), "main")
    fork.git("reset", "-q", "--hard", "FETCH_HEAD")
    up.commit({"a.txt": "a\nb\n", "pyproject.toml": '[project]\nname = "x"\nversion = "1.1.0"\n'}, "next")
    up.tag("v1.1.0")
    secret_url = f"https://bot:{TOKEN}@git.example.invalid/up.git"
    fork.git("config", f"url.{up.path}.insteadOf", secret_url)  # git reaches it; forksync sees the URL
    fork.write({".forksync.toml": f'[upstream]\nurl = "{secret_url}"\n'})  # (`remote get-url` rewrites)
    report = execute(fork.path, None, no_push=True, quiet=True)
    assert report.error is None, report.error
    assert report.upstream_url == "https://git.example.invalid/up.git"
    message = fork.git("log", "-1", "--format=%B", report.merge_commit)
    assert "Upstream: https://git.example.invalid/up.git" in message
    last = (fork.path / ".git" / "forksync" / "last.json").read_text()
    for text in (message, last, report.pr_body, report.to_json()):
        assert TOKEN not in text


def test_a_failing_credentialed_upstream_leaks_nothing(tmp_path: Path) -> None:
    fork = Repo(tmp_path / "fork")
    fork.commit({"a.txt": "a\n"}, "init")
    fork.write({".forksync.toml": f'[upstream]\nurl = "https://bot:{TOKEN}@127.0.0.1:1/up.git"\n'})
    report = execute(fork.path, None, no_push=True, quiet=True)
    assert report.status == "failed" and report.error
    last = json.loads((fork.path / ".git" / "forksync" / "last.json").read_text())
    assert TOKEN not in json.dumps(last) and TOKEN not in report.to_json()
    assert last["upstream_url"] == "https://127.0.0.1:1/up.git"


def test_web_links_never_carry_credentials_and_encode_tags() -> None:
    from forksync.forges.urls import compare_url, release_url

    assert release_url(f"https://bot:{TOKEN}@github.com/o/r.git", "v1)(x") == (
        "https://github.com/o/r/releases/tag/v1%29%28x"
    )
    assert compare_url(f"https://bot:{TOKEN}@gitlab.com/o/r.git", "v1", "v2#x") == (
        "https://gitlab.com/o/r/-/compare/v1...v2%23x"
    )


def test_a_user_name_alone_is_not_a_secret_over_ssh() -> None:
    assert secrets.strip_credentials("ssh://deployer@host/x.git") == "ssh://deployer@host/x.git"
    assert "deployer" in secrets.redact("deployer ran")
    assert secrets.strip_credentials("https://ghtoken1234@host/x.git") == "https://host/x.git"
