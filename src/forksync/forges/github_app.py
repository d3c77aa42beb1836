"""GitHub App authentication: a short-lived RS256 JWT exchanged for an installation token.

An App token is scoped to the repositories the App is installed on and expires within an
hour, which is why organisations prefer it to a personal token for unattended runs.
"""

from __future__ import annotations

import time

from .. import secrets
from ..errors import ConfigError, ForgeError
from .http import Auth, HttpClient, RetryPolicy


def app_jwt(app_id: str, private_key: str, now: float | None = None) -> str:
    """The App's own JWT (valid 9 minutes, issued 60 s in the past to absorb clock drift)."""
    import jwt  # PyJWT, an optional extra: imported only when an App is configured

    issued = int(now if now is not None else time.time()) - 60
    try:
        token: str = jwt.encode(
            {"iat": issued, "exp": issued + 600, "iss": str(app_id)}, private_key, "RS256"
        )
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"the GitHub App private key cannot sign a token: {type(exc).__name__}") from None
    secrets.register(token)
    return token


def installation_token(
    api_url: str, repo: str, app_id: str, private_key: str, retry: RetryPolicy | None = None
) -> str:
    """An installation access token for ``repo`` ("owner/name")."""
    jwt_token = app_jwt(app_id, private_key)
    auth = Auth(
        {"Authorization": f"Bearer {jwt_token}"}, "the GitHub App JWT (check app-id and the private key)"
    )
    client = HttpClient(api_url, service="GitHub", auth=auth, retry=retry)
    try:
        installation = client.json(
            "GET", f"repos/{repo}/installation", scope="the App installed on the repository"
        )
        number = installation.get("id") if isinstance(installation, dict) else None
        if not isinstance(number, int):
            raise ForgeError(f"GitHub returned no installation id for {repo}")
        data = client.json("POST", f"app/installations/{number}/access_tokens")
    finally:
        client.close()
    token = data.get("token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        raise ForgeError("GitHub returned no installation token for the App")
    secrets.register(token)
    return token
