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
from .git import Git

CONFIG_FILE = ".forksync.toml"


def _dash(name: str) -> str:
    return name.replace("_", "-")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=_dash, populate_by_name=True, frozen=True)


MAX_TAG_LENGTH = 128  # a longer tag name is never a release tag: no pattern ever sees more
MAX_UNBOUNDED = 4  # unbounded repeats (*, +, {n,}) in one regex: 128 characters stay < 0.3 s
_BOUND = rf"(?=[\s\S]{{0,{MAX_TAG_LENGTH}}}\Z)"
_QUANTIFIER = re.compile(r"[*+?]|\{(\d*)(,?)(\d*)\}")
_GLOBAL_FLAGS = re.compile(r"^(?:\(\?[aiLmsux]+\))+")


def regex_risk(source: str) -> str | None:
    r"""Why this regex could take super-linear time, or None.

    Python's re cannot be interrupted, so the time bound is enforced up front, on the regex's
    structure (not a guess at its text): a repeated group that holds a repeat or an alternation
    (`(a+)+`, `((a+))+`, `(\d|\d\d)*`) is exponential and refused; more than MAX_UNBOUNDED
    unbounded repeats is refused (their product grows polynomially); the input is bounded to
    MAX_TAG_LENGTH characters by `compile_pattern` itself.
    """
    stack: list[bool] = []  # per open group: does it hold a repeat or an alternation?
    group_risky: bool | None = None  # the previous atom was a group: did it hold one?
    unbounded = 0
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        atom_group: bool | None = None
        if c == "\\":
            i += 2
        elif c == "[":
            j = i + 1
            j += source.startswith("^", j)
            j += source.startswith("]", j)
            while j < n and source[j] != "]":
                j += 2 if source[j] == "\\" else 1
            i = j + 1
        elif c == "(":
            i = _open_group(source, i, stack)
        elif c == ")":
            inner = stack.pop() if stack else False
            if inner and stack:
                stack[-1] = True
            atom_group = inner
            i += 1
        elif c == "|":
            if stack:
                stack[-1] = True
            i += 1
        elif m := _QUANTIFIER.match(source, i):
            if m.group(0).startswith("{") and not (m.group(1) or m.group(3)):
                i += 1  # "{}" or "{,}": literal braces
                group_risky = None
                continue
            high = m.group(3) if m.group(2) else m.group(1)
            repeats = m.group(0) in "*+" or (m.group(0).startswith("{") and (not high or int(high) > 1))
            if m.group(0) in "*+" or (m.group(0).startswith("{") and (not high or int(high) > 16)):
                unbounded += 1
            if repeats and group_risky:
                return "a repeated group holds a repeat or an alternation (like (a+)+ or (a|aa)*): exponential time"
            if stack:
                stack[-1] = True
            i = m.end()
            i += source.startswith(("?", "+"), i)  # lazy or possessive
        else:
            i += 1
        group_risky = atom_group
    if unbounded > MAX_UNBOUNDED:
        return f"more than {MAX_UNBOUNDED} unbounded repeats (*, +, {{n,}}); bound some, like \\d{{1,6}}"
    return None


def _open_group(source: str, i: int, stack: list[bool]) -> int:
    """Skip a group's opening `(` or `(?…`; push it unless it is not a group (flags, comment)."""
    j = i + 1
    if not source.startswith("?", j):
        stack.append(False)
        return j
    j += 1
    for prefix in (":", "=", "!", "<=", "<!", ">"):
        if source.startswith(prefix, j):
            stack.append(False)
            return j + len(prefix)
    if source.startswith("P<", j) or source.startswith("<", j):
        stack.append(False)
        end = source.find(">", j)
        return len(source) if end < 0 else end + 1
    if source.startswith(("P=", "#", "("), j):  # a named backreference, a comment, a conditional
        end = source.find(")", j)
        return len(source) if end < 0 else end + 1
    while j < len(source) and (source[j].isalpha() or source[j] == "-"):
        j += 1
    if source.startswith(":", j):  # (?i:...) scoped flags: a group
        stack.append(False)
        return j + 1
    return j + 1  # (?i) global flags: not a group


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A glob or a 're:'-prefixed regex, compiled; raise ValueError with the reason.

    Tags come from upstream, so the match must stay fast whatever they hold: the compiled
    pattern matches nothing longer than MAX_TAG_LENGTH characters, and a regex whose structure
    can backtrack badly is refused (`regex_risk`).
    """
    if pattern.startswith("re:"):
        source = pattern[3:]
        if len(source) > 500:
            raise ValueError("regex longer than 500 characters")
        risk = regex_risk(source)
        if risk:
            raise ValueError(f"{risk}; simplify the regex")
        try:
            re.compile(source)
        except re.error as exc:
            raise ValueError(f"invalid regex: {exc}") from exc
    else:
        import fnmatch

        source = fnmatch.translate(pattern)
    flags = _GLOBAL_FLAGS.match(source)
    head = flags.group(0) if flags else ""
    return re.compile(head + _BOUND + source[len(head) :])


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
    allow_paths: list[str] = Field(default_factory=list)  # globs the agent's fixes may change and stay ready
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


# GitHub Actions events forksync knows how to judge (gate.py); any other is refused.
KNOWN_EVENTS = frozenset(
    {
        "schedule",
        "workflow_dispatch",
        "issue_comment",
        "repository_dispatch",
        "pull_request",
        "pull_request_target",
        "pull_request_review_comment",
        "push",
    }
)


class SecurityConfig(Section):
    allowed_actors: list[str] = Field(default_factory=list)
    allowed_branches: list[str] = Field(default_factory=list)
    required_label: str = ""
    allow_fork_prs: bool = False
    allowed_events: list[str] = Field(default_factory=lambda: ["schedule", "workflow_dispatch"])
    sandbox: Literal["auto", "require", "off"] = "auto"
    sandbox_network: bool = True
    allow_unsandboxed: bool = False
    supply_chain_scan: bool = True  # scan what each release adds before any of it runs
    approved_releases: list[str] = Field(default_factory=list)  # tags a person approved despite high findings

    @field_validator("allowed_events")
    @classmethod
    def _events(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - KNOWN_EVENTS)
        if unknown:
            raise ValueError(
                f"unknown event(s) {', '.join(unknown)}; known: {', '.join(sorted(KNOWN_EVENTS))}"
            )
        return value


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
    # Written by `forksync fleet config`: where each effective key came from ("fleet" or "fork"),
    # shown in the pull request. Only displayed; it changes nothing.
    sources: dict[str, Literal["fleet", "fork"]] = Field(default_factory=dict)


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
    """Return the config and where it came from ('defaults' when there is none).

    Every secret the config names (`*-env` keys) is registered for redaction on the way out.
    """
    config, source = _load_config(repo, explicit)
    from . import secrets

    secrets.register_config(config)
    return config, source


def _load_config(repo: Path, explicit: Path | None) -> tuple[Config, str]:
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


def config_section(name: str, blob: bytes | None) -> dict[str, Any] | None:
    """The config table a file holds: `.forksync.toml` whole, pyproject's `[tool.forksync]`.

    None when the file is absent, has no such table, or is not valid TOML (a conflicted file).
    """
    if blob is None:
        return None
    try:
        data = tomllib.loads(blob.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    if name == CONFIG_FILE:
        return data
    section = data.get("tool", {}).get("forksync") if name == "pyproject.toml" else None
    return section if isinstance(section, dict) else None


def load_config_at(git: Git, commit: str) -> tuple[Config, str]:
    """The config as committed in `commit` (the fork's side), never the working tree.

    A sync branch's working tree holds upstream's files; upstream must not configure the
    fork (a `regenerate` command in an upstream-added `.forksync.toml` would run).
    """
    where = f"{commit[:10]}"
    blob = git.show_file(commit, CONFIG_FILE)
    if blob is not None:
        text = blob.decode("utf-8", "replace")
        config = load_config_text(text, f"{CONFIG_FILE} (fork's commit {where})")
        source = f"{CONFIG_FILE} at {where}"
    else:
        section = config_section("pyproject.toml", git.show_file(commit, "pyproject.toml"))
        if section is None:
            config, source = Config(), "defaults"
        else:
            config = parse_config(section, f"pyproject.toml [tool.forksync] (fork's commit {where})")
            source = f"pyproject.toml [tool.forksync] at {where}"
    from . import secrets

    secrets.register_config(config)
    return config, source


def load_merge_config(
    git: Git, top: Path, explicit: Path | None, fork_commit: str, upstream_commit: str
) -> tuple[Config, str]:
    """The config for work on a merge (resolve, verify): the fork side's committed config.

    The working tree holds upstream's files, and upstream must not configure the fork (an added
    `.forksync.toml` with a `regenerate` command would run). `--config FILE` is used as given,
    and so is an untracked `.forksync.toml` that upstream does not have (the user's own file).
    """
    own = (
        (top / CONFIG_FILE).is_file()
        and not git.ok("ls-files", "--error-unmatch", "--", CONFIG_FILE)
        and git.show_file(upstream_commit, CONFIG_FILE) is None
    )
    if explicit is not None or own:
        return load_config(top, explicit)
    return load_config_at(git, fork_commit)


def load_fork_config(repo: Path, explicit: Path | None = None) -> tuple[Config, str]:
    """The config for `sync`: an explicit file, or the fork branch's own.

    The working tree is used only when it is the checkout of the fork branch it names (so a
    local edit can be tried before committing); any other checkout (a sync branch, a detached
    merge) reads the config from the fork branch's commit, and that config must name the same
    fork branch.
    """
    if explicit is not None:
        return load_config(repo, explicit)
    git = Git(repo)
    config, source = load_config(repo)
    branch = config.fork.branch
    tip = git.rev_parse(f"refs/heads/{branch}") or git.rev_parse(
        f"refs/remotes/{config.fork.remote}/{branch}"
    )
    if tip is None or git.rev_parse("HEAD") == tip:
        return config, source
    committed, source = load_config_at(git, tip)
    if committed.fork.branch != branch:
        raise ConfigError(
            f"the checkout's config names fork branch '{branch}', whose own config names "
            f"'{committed.fork.branch}'",
            hint="check out the fork branch (or pass --config)",
        )
    return committed, source


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
