"""The configuration schema, declared once, and its loading from `.forksync.toml` or pyproject.

Every section is a pydantic model that forbids unknown keys; errors are turned into one line
naming the file, the key, what was wrong and (for unknown keys) the nearest valid key.
"""

from __future__ import annotations

import difflib
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ConfigError

CONFIG_FILE = ".forksync.toml"


def _dash(name: str) -> str:
    return name.replace("_", "-")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=_dash, populate_by_name=True, frozen=True)


# A group that repeats something itself repeated, like (a+)+ or (\w*)*: exponential backtracking.
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)[+*{]")


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A glob or a 're:'-prefixed regex, compiled; raise ValueError with the reason.

    Python's re cannot be interrupted, so the time bound is enforced up front: patterns are
    short, and a quantified group holding a quantifier (catastrophic backtracking) is refused.
    """
    if pattern.startswith("re:"):
        source = pattern[3:]
        if len(source) > 500:
            raise ValueError("regex longer than 500 characters")
        if _NESTED_QUANTIFIER.search(source):
            raise ValueError("nested quantifiers such as (a+)+ can take exponential time; simplify the regex")
        try:
            return re.compile(source)
        except re.error as exc:
            raise ValueError(f"invalid regex: {exc}") from exc
    import fnmatch

    return re.compile(fnmatch.translate(pattern))


def repo_relative(value: str) -> str:
    """Paths in the config stay inside the repository: relative, no '..' parts."""
    from pathlib import PurePosixPath

    if not value:
        return value
    path = PurePosixPath(value.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (len(value) > 1 and value[1] == ":"):
        raise ValueError("must be a path inside the repository (relative, without '..')")
    return value


class UpstreamConfig(Section):
    url: str = ""
    remote: str = "upstream"
    release_tags: str = r"re:^v(\d+\.\d+\.\d+)(-stable)?$"
    release_source: Literal["tags", "releases", "both"] = "tags"
    exclude: list[str] = Field(default_factory=lambda: ["nightly", "rc", "dev", "alpha", "beta", "pre"])

    @field_validator("release_tags")
    @classmethod
    def _pattern(cls, value: str) -> str:
        compile_pattern(value)
        return value


class ForkConfig(Section):
    branch: str = "main"
    remote: str = "origin"
    sync_branch: str = "upstream-sync/{version}"
    name: str = "fork"
    owned_paths: list[str] = Field(default_factory=list)
    marker: str = "FORK"

    @field_validator("sync_branch")
    @classmethod
    def _has_version(cls, value: str) -> str:
        if "{version}" not in value:
            raise ValueError("must contain {version}")
        return value


class VersionConfig(Section):
    file: str = "pyproject.toml"
    scheme: str = "{upstream}"
    update: bool = True

    @field_validator("file")
    @classmethod
    def _file(cls, value: str) -> str:
        return repo_relative(value)

    @field_validator("scheme")
    @classmethod
    def _scheme(cls, value: str) -> str:
        try:
            value.format(upstream="1.0.0", n=1, local="fork")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"unknown placeholder {exc}; use {{upstream}}, {{n}} or {{local}}") from None
        return value


class CheckCommand(Section):
    name: str = ""
    run: str | list[str]
    timeout: float | None = None


class ChecksConfig(Section):
    commands: list[str | list[str] | CheckCommand] = Field(default_factory=list)
    timeout: float = 1800.0
    required: bool = True


PolicyName = Literal["keep-fork", "take-upstream", "union", "regenerate", "manual", "merge"]


class PathPolicy(Section):
    path: str
    policy: PolicyName
    command: str | list[str] | None = None
    reason: str = ""


class ResolveConfig(Section):
    policies: list[PathPolicy] = Field(default_factory=list)
    min_confidence: float = Field(default=0.9, ge=0.0, le=1.0)
    on_conflict: Literal["review", "stop"] = "review"
    learn_from_history: bool = True
    learn_limit: int = Field(default=200, ge=0)
    disable: list[str] = Field(default_factory=list)
    default_policies: bool = True
    calibrate: bool = True  # use `forksync backtest --calibrate` figures when they exist


class ForgeConfig(Section):
    kind: Literal["local", "github", "gitlab"] = "local"
    repo: str = ""
    api_url: str = ""
    outbox: str = ""
    base: str = ""
    label_sync: str = "automated-sync"
    label_ready: str = "ready"
    label_review: str = "needs-review"
    extra_labels: list[str] = Field(default_factory=list)
    draft: bool = False
    reviewers: list[str] = Field(default_factory=list)
    team_reviewers: list[str] = Field(default_factory=list)
    assignees: list[str] = Field(default_factory=list)
    on_newer_release: Literal["supersede", "stack"] = "supersede"
    token_env: str = ""
    app_id: str = ""
    app_private_key_env: str = ""


NotifyOn = Literal["synced", "up-to-date", "conflicts", "failed", "checks-failed"]


def _default_notify_on() -> list[NotifyOn]:
    return ["synced", "conflicts", "failed", "checks-failed"]


class NotifyConfig(Section):
    slack_webhook_env: str = ""
    slack_token_env: str = ""
    slack_channel: str = ""
    webhook_url_env: str = ""
    on: list[NotifyOn] = Field(default_factory=_default_notify_on)


class AgentConfig(Section):
    provider: Literal["none", "anthropic", "openai", "claude-code"] = "none"
    model: str = ""
    base_url: str = ""
    api_key_env: str = ""
    max_cost_usd: float = Field(default=2.0, ge=0)
    max_tokens: int = Field(default=400_000, ge=0)
    max_turns: int = Field(default=8, ge=1)
    fix_checks: bool = True
    conventions_file: str = ""

    @field_validator("conventions_file")
    @classmethod
    def _conventions(cls, value: str) -> str:
        return repo_relative(value)

    allow_ready: bool = False
    prices: dict[str, tuple[float, float]] = Field(default_factory=dict)
    timeout: float = 120.0


class VerifyConfig(Section):
    enabled: bool = True
    manifest: str = ".forksync/features.toml"

    @field_validator("manifest")
    @classmethod
    def _manifest(cls, value: str) -> str:
        return repo_relative(value)

    fail_on_findings: bool = False
    # The command that runs the fork's tests in the fork's own environment (a pytest command line:
    # forksync appends the node ids); true = forksync's interpreter's pytest if it has one; false = off.
    tests: bool | str | list[str] = True

    @field_validator("tests")
    @classmethod
    def _tests(cls, value: bool | str | list[str]) -> bool | str | list[str]:
        if isinstance(value, str):
            if value.strip().lower() in ("off", "false", ""):
                return False
            try:
                shlex.split(value)
            except ValueError as exc:
                raise ValueError(f"cannot split the command {value!r}: {exc}") from None
        elif isinstance(value, list) and not value:
            raise ValueError("an empty command (use false to not run the fork's tests)")
        return value


class Feature(Section):
    name: str
    description: str = ""
    files: list[str] = Field(default_factory=list)
    commits: list[str] = Field(default_factory=list)
    pull_requests: list[int] = Field(default_factory=list)
    defines: list[str] = Field(default_factory=list)
    called: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)
    tests: list[str] = Field(default_factory=list)


class SecurityConfig(Section):
    allowed_actors: list[str] = Field(default_factory=list)
    allowed_branches: list[str] = Field(default_factory=list)
    required_label: str = ""
    allow_fork_prs: bool = False


class Config(Section):
    upstream: UpstreamConfig = Field(default_factory=UpstreamConfig)
    fork: ForkConfig = Field(default_factory=ForkConfig)
    version: VersionConfig = Field(default_factory=VersionConfig)
    checks: ChecksConfig = Field(default_factory=ChecksConfig)
    resolve: ResolveConfig = Field(default_factory=ResolveConfig)
    forge: ForgeConfig = Field(default_factory=ForgeConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    agent: AgentConfig = Field(default_factory=AgentConfig)
    verify: VerifyConfig = Field(default_factory=VerifyConfig)
    features: list[Feature] = Field(default_factory=list)
    security: SecurityConfig = Field(default_factory=SecurityConfig)


def _valid_keys(model: type[BaseModel]) -> list[str]:
    return [_dash(name) for name in model.model_fields]


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] = Config
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part).replace("-", "_"))
        if field is None:
            return None
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        candidates = [ann, *args]
        nxt = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if nxt is None:
            return None
        model = nxt
    return model


def _describe(source: str, exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = tuple(err["loc"])
    key = ".".join(str(p) for p in loc if not isinstance(p, int) or True)
    if err["type"] == "extra_forbidden":
        model = _model_at(loc)
        valid = _valid_keys(model) if model else []
        close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
        fix = f"did you mean '{close[0]}'?" if close else f"valid keys: {', '.join(valid)}"
        return f"{source}: unknown key '{key}'; {fix}"
    msg = err["msg"].removeprefix("Value error, ")
    return f"{source}: key '{key}': {msg} (got {err.get('input')!r})"


def parse_config(data: dict[str, Any], source: str) -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(source, exc)) from None


def load_config(repo: Path, explicit: Path | None = None) -> tuple[Config, str]:
    """Return the config and where it came from ('defaults' when there is none)."""
    candidates: list[Path] = [explicit] if explicit else [repo / CONFIG_FILE]
    for path in candidates:
        if path.is_file():
            return parse_config(_read_toml(path), path.name), str(path)
        if explicit:
            raise ConfigError(f"config file {path} not found", hint="pass an existing file to --config")
    pyproject = repo / "pyproject.toml"
    if pyproject.is_file():
        data = _read_toml(pyproject)
        section = data.get("tool", {}).get("forksync")
        if isinstance(section, dict):
            return parse_config(section, "pyproject.toml [tool.forksync]"), str(pyproject)
    return Config(), "defaults"


def load_config_text(text: str, source: str) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    return parse_config(data, source)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name}: not valid TOML: {exc}", hint="fix the syntax at that line") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
