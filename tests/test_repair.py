"""The repair stage: the agent's first task is what verification found, then failing checks."""

from __future__ import annotations

import pytest

from forksync.commands.sync import execute
from tests.gitutil import git
from tests.standins.llm_api import LLMStandIn, Reply
from tests.test_llm_common import KEY_ENV, key_env_fixture, standin_fixture  # noqa: F401

pytestmark = pytest.mark.usefixtures("key_env")


def test_agent_repairs_a_verification_finding_first(demo: tuple, standin: LLMStandIn) -> None:  # type: ignore[type-arg]
    _, _, fork = demo
    config = (fork / ".forksync.toml").read_text()
    (fork / ".forksync.toml").write_text(
        config
        + f'[agent]\nprovider = "openai"\nbase-url = "{standin.openai_url}"\napi-key-env = "{KEY_ENV}"\n'
        'model = "gpt-4.1"\n'
        '[[features]]\nname = "audit-sink"\ndescription = "the S3 audit sink setting"\n'
        'files = ["tinyproxy/router.py"]\npatterns = ["AUDIT_SINK"]\n'
    )
    git(fork, "commit", "-qam", "a feature the merge does not carry yet")
    seen: list[str] = []

    def model(body: dict) -> Reply:  # type: ignore[type-arg]
        seen.append(str(body["messages"]))
        turns = sum(1 for m in body["messages"] if m["role"] == "tool")
        if turns == 0:
            return Reply(
                tool_calls=[
                    (
                        "apply_edit",
                        {
                            "path": "tinyproxy/router.py",
                            "old_text": "import json\n",
                            "new_text": "import json\n\nAUDIT_SINK = 's3://acme-audit'\n",
                        },
                    ),
                    ("run_check", {"name": "forksync verify"}),
                ]
            )
        return Reply(tool_calls=[("finish", {"rationale": "restore the audit-sink setting"})])

    standin.add(model, model)
    report = execute(fork, None, quiet=True)
    assert report.error is None, report.error
    assert "audit-sink" in seen[0] and "AUDIT_SINK" in seen[0]  # the finding was the task
    assert report.llm_calls[0].purpose.startswith("fix:forksync verify")
    assert not report.findings  # re-verified after the fix
    head = git(fork, "rev-parse", report.sync_branch)
    assert "AUDIT_SINK" in git(fork, "show", f"{head}:tinyproxy/router.py")
    assert len(git(fork, "rev-list", "--parents", "-n", "1", f"{head}~1").split()) == 3  # merge below the fix
