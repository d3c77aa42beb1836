"""The configuration schema, declared once, and its loading from `.forksync.toml` or pyproject.

Every section is a msgspec Struct that forbids unknown keys (msgspec, not pydantic: it imports in
a few milliseconds, and `forksync merge-driver` starts once per conflicted file); errors are
turned into one line naming the file, the key, what was wrong and (for unknown keys) the nearest
valid key.
"""

from __future__ import annotations

import difflib
import re
import shlex
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import msgspec
from msgspec import Meta, field
from msgspec.structs import force_setattr

from .errors import ConfigError
from .git import Git

CONFIG_FILE = ".forksync.toml"


class Section(msgspec.Struct, rename="kebab", forbid_unknown_fields=True, frozen=True, kw_only=True):
    """A config table: kebab-case keys, unknown keys refused, immutable once read.

    Subclasses repeat `frozen=True, kw_only=True` only for type checkers (msgspec inherits them;
    PEP 681 has no way to say so, msgspec issue #657).
    """


def _bad(key: str, message: str, value: object) -> ValueError:
    """A checker's error, naming its key so `describe_error` can say which one (msgspec names the table)."""
    return ValueError(f"{key}: {message} (got {value!r})")


Fraction = Annotated[float, Meta(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Meta(ge=0.0)]
Count = Annotated[int, Meta(ge=0)]


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


class UpstreamConfig(Section, frozen=True, kw_only=True):
    url: str = ""
    remote: str = "upstream"
    release_tags: str = r"re:^v(\d+\.\d+\.\d+)(-stable)?$"
    release_source: Literal["tags", "releases", "both"] = "tags"
    exclude: list[str] = field(default_factory=lambda: ["nightly", "rc", "dev", "alpha", "beta", "pre"])

    def __post_init__(self) -> None:
        try:
            compile_pattern(self.release_tags)
        except ValueError as exc:
            raise _bad("release-tags", str(exc), self.release_tags) from None


class ForkConfig(Section, frozen=True, kw_only=True):
    branch: str = "main"
    remote: str = "origin"
    sync_branch: str = "upstream-sync/{version}"
    name: str = "fork"
    owned_paths: list[str] = []
    marker: str = "FORK"

    def __post_init__(self) -> None:
        if "{version}" not in self.sync_branch:
            raise _bad("sync-branch", "must contain {version}", self.sync_branch)


def _inside(key: str, value: str) -> None:
    try:
        repo_relative(value)
    except ValueError as exc:
        raise _bad(key, str(exc), value) from None


class VersionConfig(Section, frozen=True, kw_only=True):
    file: str = "pyproject.toml"
    scheme: str = "{upstream}"
    update: bool = True

    def __post_init__(self) -> None:
        _inside("file", self.file)
        try:
            self.scheme.format(upstream="1.0.0", n=1, local="fork")
        except (KeyError, IndexError, ValueError) as exc:
            raise _bad(
                "scheme", f"unknown placeholder {exc}; use {{upstream}}, {{n}} or {{local}}", self.scheme
            ) from None


class CheckCommand(Section, frozen=True, kw_only=True):
    name: str = ""
    run: str | list[str]
    timeout: float | None = None


class ChecksConfig(Section, frozen=True, kw_only=True):
    commands: list[str | list[str] | CheckCommand] = []
    timeout: float = 1800.0
    required: bool = True


PolicyName = Literal["keep-fork", "take-upstream", "union", "regenerate", "manual", "merge"]


class PathPolicy(Section, frozen=True, kw_only=True):
    path: str
    policy: PolicyName
    command: str | list[str] | None = None
    reason: str = ""


class ResolveConfig(Section, frozen=True, kw_only=True):
    policies: list[PathPolicy] = []
    min_confidence: Fraction = 0.9
    on_conflict: Literal["review", "stop"] = "review"
    learn_from_history: bool = True
    learn_limit: Count = 200
    disable: list[str] = []
    default_policies: bool = True
    calibrate: bool = True  # use `forksync backtest --calibrate` figures when they exist


class ForgeConfig(Section, frozen=True, kw_only=True):
    kind: Literal["local", "github", "gitlab"] = "local"
    repo: str = ""
    api_url: str = ""
    outbox: str = ""
    base: str = ""
    label_sync: str = "automated-sync"
    label_ready: str = "ready"
    label_review: str = "needs-review"
    extra_labels: list[str] = []
    draft: bool = False
    reviewers: list[str] = []
    team_reviewers: list[str] = []
    assignees: list[str] = []
    on_newer_release: Literal["supersede", "stack"] = "supersede"
    token_env: str = ""
    app_id: str = ""
    app_private_key_env: str = ""


NotifyOn = Literal["synced", "up-to-date", "conflicts", "failed", "checks-failed"]


def _default_notify_on() -> list[NotifyOn]:
    return ["synced", "conflicts", "failed", "checks-failed"]


class NotifyConfig(Section, frozen=True, kw_only=True):
    slack_webhook_env: str = ""
    slack_token_env: str = ""
    slack_channel: str = ""
    webhook_url_env: str = ""
    on: list[NotifyOn] = field(default_factory=_default_notify_on)


class AgentConfig(Section, frozen=True, kw_only=True):
    provider: Literal["none", "anthropic", "openai", "claude-code"] = "none"
    model: str = ""
    base_url: str = ""
    api_key_env: str = ""
    max_cost_usd: NonNegative = 2.0
    max_tokens: Count = 400_000
    max_turns: Annotated[int, Meta(ge=1)] = 8
    fix_checks: bool = True
    conventions_file: str = ""
    allow_ready: bool = False
    allow_paths: list[str] = []  # globs the agent's fixes may change and stay ready
    prices: dict[str, tuple[float, float]] = {}
    timeout: float = 120.0

    def __post_init__(self) -> None:
        _inside("conventions-file", self.conventions_file)


class VerifyConfig(Section, frozen=True, kw_only=True):
    enabled: bool = True
    manifest: str = ".forksync/features.toml"
    fail_on_findings: bool = False
    # The command that runs the fork's tests in the fork's own environment (a pytest command line:
    # forksync appends the node ids); true = forksync's interpreter's pytest if it has one; false = off.
    tests: bool | str | list[str] = True

    def __post_init__(self) -> None:
        _inside("manifest", self.manifest)
        value = self.tests
        if isinstance(value, str):
            if value.strip().lower() in ("off", "false", ""):
                force_setattr(self, "tests", False)  # msgspec's documented way to normalize a frozen struct
                return
            try:
                shlex.split(value)
            except ValueError as exc:
                raise _bad("tests", f"cannot split the command: {exc}", value) from None
        elif isinstance(value, list) and not value:
            raise _bad("tests", "an empty command (use false to not run the fork's tests)", value)


class Feature(Section, frozen=True, kw_only=True):
    name: str
    description: str = ""
    files: list[str] = []
    commits: list[str] = []
    pull_requests: list[int] = []
    defines: list[str] = []
    called: list[str] = []
    patterns: list[str] = []
    tests: list[str] = []


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


class SecurityConfig(Section, frozen=True, kw_only=True):
    allowed_actors: list[str] = []
    allowed_branches: list[str] = []
    required_label: str = ""
    allow_fork_prs: bool = False
    allowed_events: list[str] = field(default_factory=lambda: ["schedule", "workflow_dispatch"])
    sandbox: Literal["auto", "require", "off"] = "auto"
    sandbox_network: bool = True
    allow_unsandboxed: bool = False
    supply_chain_scan: bool = True  # scan what each release adds before any of it runs
    approved_releases: list[str] = []  # tags a person approved despite high findings

    def __post_init__(self) -> None:
        unknown = sorted(set(self.allowed_events) - KNOWN_EVENTS)
        if unknown:
            raise _bad(
                "allowed-events",
                f"unknown event(s) {', '.join(unknown)}; known: {', '.join(sorted(KNOWN_EVENTS))}",
                self.allowed_events,
            )


class Config(Section, frozen=True, kw_only=True):
    upstream: UpstreamConfig = field(default_factory=UpstreamConfig)
    fork: ForkConfig = field(default_factory=ForkConfig)
    version: VersionConfig = field(default_factory=VersionConfig)
    checks: ChecksConfig = field(default_factory=ChecksConfig)
    resolve: ResolveConfig = field(default_factory=ResolveConfig)
    forge: ForgeConfig = field(default_factory=ForgeConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    verify: VerifyConfig = field(default_factory=VerifyConfig)
    features: list[Feature] = []
    security: SecurityConfig = field(default_factory=SecurityConfig)
    # Written by `forksync fleet config`: where each effective key came from ("fleet" or "fork"),
    # shown in the pull request. Only displayed; it changes nothing.
    sources: dict[str, Literal["fleet", "fork"]] = {}


def valid_keys(model: type[Section]) -> list[str]:
    """The keys a table of this section accepts, as written in TOML."""
    return [f.encode_name for f in msgspec.structs.fields(model)]


def _within(annotation: Any) -> list[Any]:
    """An annotation and every type nested in it (`list[str | CheckCommand]` holds CheckCommand)."""
    out = [annotation]
    for arg in getattr(annotation, "__args__", ()):
        out += _within(arg)
    return out


def _field_at(model: type[Section], path: list[str | int]) -> Any:
    """The annotation of the key a path leads to from ``model``, or None where it leaves the schema."""
    annotation: Any = model
    for part in path:
        if isinstance(part, int):
            continue
        section = next(
            (t for t in _within(annotation) if isinstance(t, type) and issubclass(t, Section)), None
        )
        info = (
            next((f for f in msgspec.structs.fields(section) if f.encode_name == part), None)
            if section
            else None
        )
        if info is None:
            return None
        annotation = info.type
    return annotation


def _section_at(model: type[Section], path: list[str | int]) -> type[Section] | None:
    """The section a path of keys leads to from ``model`` (a table's, or a list of tables')."""
    found = _within(_field_at(model, path))
    return next((t for t in found if isinstance(t, type) and issubclass(t, Section)), None)


def _choices(model: type[Section], path: list[str | int]) -> str:
    """`one of: a, b, c` for a key that takes one of fixed values; '' for any other."""
    values = [a for t in _within(_field_at(model, path)) if get_origin(t) is Literal for a in get_args(t)]
    return f"; one of: {', '.join(map(str, values))}" if values else ""


_AT = re.compile(r"^(?P<msg>.*) - at `\$(?P<path>.*)`$", re.S)
_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<key>.*)`$", re.S)
_MISSING = re.compile(r"^Object missing required field `(?P<key>.*)`$", re.S)
_OWN = re.compile(r"^(?P<key>[a-z][a-z-]*): (?P<msg>.*)$", re.S)


def _lookup(data: Any, path: list[str | int]) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def unknown_key(source: str, key: str, valid: list[str], shown: str | None = None) -> str:
    """`source: unknown key 'a.b'; did you mean 'c'?` (or the valid keys, when none is close);
    ``shown`` is the key with where it sits (`checks.commands[1].rn` for `rn`)."""
    close = difflib.get_close_matches(key, valid, n=1)
    fix = f"did you mean '{close[0]}'?" if close else f"valid keys: {', '.join(valid)}"
    return f"{source}: unknown key '{shown or key}'; {fix}"


def _dotted(path: list[str | int]) -> str:
    """`checks.commands[2].run`: keys joined by dots, list positions in brackets."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def describe_error(
    source: str,
    exc: msgspec.ValidationError,
    data: Any,
    model: type[Section],
    prefix: tuple[str | int, ...] = (),
) -> str:
    """One line: the file, the key (``prefix`` first: where ``data`` sits in the file), what is
    wrong and the value given, or for an unknown key the nearest valid one."""
    text = str(exc)
    m = _AT.match(text)
    msg, where = (m.group("msg"), m.group("path")) if m else (text, "")
    path: list[str | int] = [k if k else int(i) for k, i in _PART.findall(where)]
    if unknown := _UNKNOWN.match(msg):
        section = _section_at(model, path)
        key = unknown.group("key")
        return unknown_key(
            source, key, valid_keys(section) if section else [], _dotted([*prefix, *path, key])
        )
    if missing := _MISSING.match(msg):
        return f"{source}: key '{_dotted([*prefix, *path, missing.group('key')])}' is required"
    if own := _OWN.match(msg):  # a section's own check names its key, and the value
        return f"{source}: key '{_dotted([*prefix, *path, own.group('key')])}': {own.group('msg')}"
    if msg.startswith("Invalid enum value"):
        msg = f"not a known value{_choices(model, path)}"
    where = f"key '{_dotted([*prefix, *path])}'" if prefix or path else "the file's top level"
    return f"{source}: {where}: {msg} (got {_lookup(data, path)!r})"


def parse_config(data: dict[str, Any], source: str) -> Config:
    try:
        return msgspec.convert(data, Config)
    except msgspec.ValidationError as exc:
        raise ConfigError(describe_error(source, exc, data, Config)) from None


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
