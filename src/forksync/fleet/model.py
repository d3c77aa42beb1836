"""The fleet file (`fleet.toml`): shared defaults and one entry per fork, each holding the same
sections as `.forksync.toml`, validated by the same schema (config.py).

A fleet-level mistake (unknown top-level key, a bad `[defaults]`) stops everything: it would
break every fork alike. A mistake in one fork's entry only marks that fork as a problem, so one
broken entry never stops the others.

A fork's effective configuration is the fleet defaults, then its fleet entry, then its own
`.forksync.toml` as committed on its production branch (never a merged tree), each merged key by
key over the one before; `provenance` says where each key came from ("fleet" or "fork").
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import msgspec

from ..config import Config, Section, describe_error, parse_config, unknown_key, valid_keys
from ..errors import ConfigError

FLEET_FILE = "fleet.toml"
IDENTITY = ("name", "repository", "url")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)+$")


class FleetSettings(Section, frozen=True, kw_only=True):
    max_parallel: Annotated[int, msgspec.Meta(ge=1, le=256)] = 8  # matrix jobs running at once
    dashboard_label: str = "forksync-dashboard"
    dashboard_title: str = "forksync dashboard"
    page_title: str = "forksync fleet"


@dataclass(frozen=True)
class FleetFork:
    """One fork as the fleet file declares it; ``problem`` is set when its entry is invalid."""

    name: str
    repository: str
    url: str  # where git reaches the fork
    entry: dict[str, Any] = field(default_factory=dict)  # its config sections, as written
    problem: str = ""


@dataclass(frozen=True)
class Fleet:
    settings: FleetSettings
    defaults: dict[str, Any]
    forks: list[FleetFork]
    source: str = FLEET_FILE

    def fork(self, name: str) -> FleetFork:
        for fork in self.forks:
            if fork.name == name:
                return fork
        close = difflib.get_close_matches(name, [f.name for f in self.forks], n=1)
        hint = f"did you mean '{close[0]}'?" if close else "run `forksync fleet plan` to list the forks"
        raise ConfigError(f"{self.source}: no fork named {name!r}", hint=hint)


def _unknown(source: str, key: str, valid: list[str]) -> ConfigError:
    return ConfigError(unknown_key(source, key, valid))


def _sections() -> list[str]:
    return valid_keys(Config)


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged into ``base`` key by key: tables recursively, anything else replaced whole."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def leaf_keys(data: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted names of the values a table sets (lists and arrays of tables count as one value)."""
    keys: list[str] = []
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        keys += leaf_keys(value, dotted + ".") if isinstance(value, dict) else [dotted]
    return keys


def _entry(raw: Any, index: int, source: str, defaults: dict[str, Any]) -> FleetFork:
    where = f"{source} forks[{index}]"
    if not isinstance(raw, dict):
        return FleetFork(f"#{index}", "", "", problem=f"{where}: each [[forks]] entry must be a table")
    repository = raw.get("repository")
    name = raw.get("name") or (repository.rsplit("/", 1)[-1] if isinstance(repository, str) else "")
    label = name if isinstance(name, str) and _NAME.match(name) else f"#{index}"
    url = raw.get("url") or (f"https://github.com/{repository}.git" if isinstance(repository, str) else "")

    def bad(message: str) -> FleetFork:
        return FleetFork(label, str(repository or ""), str(url or ""), problem=message)

    if not isinstance(repository, str) or not _REPOSITORY.match(repository):
        return bad(f"{where}: 'repository' must be owner/name (got {repository!r})")
    if not isinstance(name, str) or not _NAME.match(name):
        return bad(f"{where}: 'name' must be letters, digits, '.', '_' or '-' (got {name!r})")
    if not isinstance(url, str):
        return bad(f"{where} ({name}): 'url' must be a string")
    sections = {k: v for k, v in raw.items() if k not in IDENTITY}
    for key in sections:
        if key not in _sections():
            return bad(str(_unknown(f"{where} ({name})", key, [*IDENTITY, *_sections()])))
    try:
        parse_config(deep_merge(defaults, sections), f"{where} ({name})")
    except ConfigError as exc:
        return bad(str(exc))
    return FleetFork(name, repository, url, sections)


def parse_fleet(data: dict[str, Any], source: str = FLEET_FILE) -> Fleet:
    """The fleet from parsed TOML; ConfigError for a fleet-wide mistake."""
    for key in data:
        if key not in ("fleet", "defaults", "forks"):
            raise _unknown(source, key, ["fleet", "defaults", "forks"])
    table = data.get("fleet", {})
    try:
        settings = msgspec.convert(table, FleetSettings)
    except msgspec.ValidationError as exc:
        raise ConfigError(describe_error(source, exc, table, FleetSettings, ("fleet",))) from None
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise ConfigError(f"{source}: [defaults] must be a table")
    parse_config(defaults, f"{source} [defaults]")  # raises on a bad default, naming the key
    raw_forks = data.get("forks", [])
    if not isinstance(raw_forks, list):
        raise ConfigError(f"{source}: forks must be an array of tables ([[forks]])")
    forks = [_entry(raw, i, source, defaults) for i, raw in enumerate(raw_forks)]
    seen: set[str] = set()
    unique = []
    for fork in forks:
        if fork.name in seen and not fork.problem:
            fork = FleetFork(
                fork.name, fork.repository, fork.url, problem=f"{source}: fork name {fork.name!r} used twice"
            )
        seen.add(fork.name)
        unique.append(fork)
    return Fleet(settings, defaults, unique, source)


def load_fleet(path: Path) -> Fleet:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"fleet file {path} not found", hint="pass --file PATH/fleet.toml") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return parse_fleet(data, path.name)


@dataclass(frozen=True)
class Effective:
    """A fork's configuration as its sync uses it, and where each key came from."""

    data: dict[str, Any]
    config: Config
    provenance: dict[str, str]  # dotted key -> "fleet" | "fork"


def effective(fleet: Fleet, fork: FleetFork, fork_file: dict[str, Any] | None) -> Effective:
    """Fleet defaults, then the fork's fleet entry, then the fork's own file (``fork_file``).

    The fork's identity stays the fleet's: ``[forge] repo`` is the entry's repository whatever
    the fork's file says, so a fork cannot make its run publish somewhere else."""
    if fork.problem:
        raise ConfigError(fork.problem)
    fleet_part = deep_merge(fleet.defaults, fork.entry)
    data = deep_merge(fleet_part, fork_file or {})
    forge = dict(data.get("forge", {}))
    forge["repo"] = fork.repository
    data["forge"] = forge
    provenance = {key: "fleet" for key in leaf_keys(fleet_part)}
    provenance.update({key: "fork" for key in leaf_keys(fork_file or {})})
    provenance["forge.repo"] = "fleet"
    config = parse_config(data, f"{fork.name}: fleet.toml + .forksync.toml")
    return Effective(data, config, dict(sorted(provenance.items())))


def fleet_config(fleet: Fleet, fork: FleetFork) -> Config:
    """The fleet's part alone (what `plan` reads: it never clones a fork)."""
    return parse_config(deep_merge(fleet.defaults, fork.entry), fork.name)
