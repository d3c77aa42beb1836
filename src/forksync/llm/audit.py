"""Every prompt and answer saved as JSON under the run's artifacts, secrets redacted.

A reviewer can read exactly what the model saw and said; the report's LLMCallRecord points
at the file.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

from ..secrets import redact


def redact_tree(value: Any) -> Any:
    """Redact every string inside a JSON-like structure (keys included)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): redact_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_tree(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return redact_tree(dataclasses.asdict(value))
    return value


class Auditor:
    def __init__(self, artifacts_dir: Path) -> None:
        self.dir = artifacts_dir / "llm"
        self.count = len(list(self.dir.glob("*.json"))) if self.dir.is_dir() else 0  # a resumed run appends

    def save(self, purpose: str, record: dict[str, Any]) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", purpose)[:60]
        self.count += 1
        while (path := self.dir / f"{self.count:03d}-{slug}.json").exists():
            self.count += 1
        path.write_text(json.dumps(redact_tree(record), indent=2, ensure_ascii=False), encoding="utf-8")
        return path
