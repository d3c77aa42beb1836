"""The agent's edits outside the conflict hunks (issue 14): anchored, small, validated, explained.

Real repositories stopped in a conflicted merge, the real agent, a loopback LLM API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from forksync.resolve.model import FileResult
from tests.standins.llm_api import LLMStandIn, Reply
from tests.test_llm_common import (
    agent_config,
    agent_on_merge,
    key_env_fixture,  # noqa: F401  (fixture)
    standin_fixture,  # noqa: F401  (fixture)
)

pytestmark = pytest.mark.usefixtures("key_env")

HEAD = "import os\nimport sys\n\n" + "".join(f"X{i} = {i}\n" for i in range(12)) + "\n\n"
BASE = HEAD + "def greet(name):\n    return 'Hello ' + name\n"
FORK = HEAD + "def greet(name):\n    audit(name)  # FORK: audit every greeting\n    return 'Hello ' + name\n"
UP = HEAD + "def greet(name, width=20):\n    return 'Hello ' + name[:width]\n"
MERGED = (
    "def greet(name, width=20):\n"
    "    audit(name)  # FORK: audit every greeting\n"
    "    return textwrap.shorten('Hello ' + name, width)\n"
)
ADD_IMPORT = {
    "find": "import sys",
    "replace": "import sys\nimport textwrap",
    "rationale": "the merge uses textwrap",
}


def answer(*edits: dict[str, str], resolved: str = MERGED) -> Reply:
    entry = {"hunk": 1, "decision": "resolve", "resolved": resolved, "rationale": "both changes kept"}
    return Reply(tool_calls=[("submit_resolution", {"hunks": [entry], "edits": list(edits)})])


def run(
    tmp_path: Path, standin: LLMStandIn, *replies: Reply, fork: str = FORK, provider: str = "anthropic"
) -> FileResult:
    _, results, (res,) = agent_on_merge(
        tmp_path,
        standin,
        ({"app.py": BASE}, {"app.py": fork}, {"app.py": UP}),
        *replies,
        config=agent_config(standin, provider),
    )
    assert [r.outcome for r in results] == ["unresolved"]
    return res


def sent(standin: LLMStandIn, i: int = 0) -> str:
    return json.dumps(standin.requests[i].body)


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_an_import_the_merged_hunk_needs_is_added_and_explained(
    tmp_path: Path, standin: LLMStandIn, provider: str
) -> None:
    res = run(tmp_path, standin, answer(ADD_IMPORT), provider=provider)
    assert res.outcome == "resolved", res.reason
    assert res.content == (HEAD.replace("import sys\n", "import sys\nimport textwrap\n") + MERGED).encode()
    assert res.reason == (
        "every hunk resolved (1 by the agent); 1 edit(s) outside the hunks by the agent: the merge uses textwrap"
    )
    assert res.details == (
        "the agent edited outside the hunks: 1 line(s) from 'import sys' became 2: the merge uses textwrap",
    )
    # The model was shown the lines it may anchor an edit on, and told how.
    assert "The file's first lines (outside the hunks)" in sent(standin) and "import sys" in sent(standin)
    assert '"edits"' in sent(standin)
    assert len(standin.requests) == 1


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        ({"find": "import json", "replace": "import json\nimport textwrap"}, "it matches nowhere"),
        ({"find": "", "replace": "import textwrap"}, "an edit needs a non-empty find and a replace"),
        ({"find": "import sys", "replace": "import sys\n<<<<<<< fork"}, "holds conflict markers"),
        ({"find": "X1 = 1", "replace": "X1 = (1"}, "result does not parse"),
        ({"find": "import s", "replace": "import s2"}, "it matches nowhere"),  # whole lines only
    ],
)
def test_a_refused_edit_is_retried_with_its_reason_then_left_out(
    tmp_path: Path, standin: LLMStandIn, edit: dict[str, Any], why: str
) -> None:
    edit = {**edit, "rationale": "needed"}
    res = run(tmp_path, standin, answer(edit), answer(edit))
    assert len(standin.requests) == 2
    assert why in sent(standin, 1) and "- edit:" in sent(standin, 1)
    # The hunk's own answer stands; the file is unchanged outside it.
    assert res.outcome == "resolved"
    assert res.content == (HEAD + MERGED).encode()
    assert "edit(s) outside the hunks by the agent" not in res.reason
    assert "; 1 edit(s) outside the hunks refused: " in res.reason and why in res.reason
    assert len(res.details) == 1 and res.details[0].startswith("an edit outside the hunks refused: ")


def test_an_edit_matching_twice_is_refused(tmp_path: Path, standin: LLMStandIn) -> None:
    twice = HEAD.replace("X3 = 3\n", "X3 = 3\nimport sys\n")
    merge_fork = FORK.replace(HEAD, twice)
    edit = {**ADD_IMPORT}
    res = run(tmp_path, standin, answer(edit), answer(), fork=merge_fork)
    assert "it matches 2 times" in sent(standin, 1)
    assert b"import textwrap" not in (res.content or b"")


def test_an_edit_dropping_the_forks_marked_line_is_refused(tmp_path: Path, standin: LLMStandIn) -> None:
    marked_head = HEAD.replace("X5 = 5\n", "X5 = 6  # FORK: tuned for our load\n")
    edit = {
        "find": "X5 = 6  # FORK: tuned for our load",
        "replace": "X5 = 5",
        "rationale": "upstream's value",
    }
    res = run(tmp_path, standin, answer(edit), answer(), fork=FORK.replace(HEAD, marked_head))
    assert "drops the fork's marked line" in sent(standin, 1)
    assert b"X5 = 6  # FORK: tuned for our load" in (res.content or b"")


def test_an_edit_repeated_in_the_retry_is_applied_once(tmp_path: Path, standin: LLMStandIn) -> None:
    bad_hunk = "def greet(name, width=20):\n    return textwrap.shorten('Hello ' + name, width)\n"
    res = run(tmp_path, standin, answer(ADD_IMPORT, resolved=bad_hunk), answer(ADD_IMPORT))
    assert len(standin.requests) == 2  # the hunk dropped the fork's marked line: asked again
    assert res.outcome == "resolved"
    assert (res.content or b"").count(b"import textwrap\n") == 1


def test_edits_outside_the_hunks_share_one_budget_of_lines_per_file(
    tmp_path: Path, standin: LLMStandIn
) -> None:
    """Split into small edits or not, a file's edits outside the hunks change at most 120 lines."""
    head = "import os\nimport sys\n\n" + "".join(f"X{i} = {i}\n" for i in range(130)) + "\n\n"
    fork, up, base = (text.replace(HEAD, head) for text in (FORK, UP, BASE))
    drop = [
        {
            "find": "".join(f"X{i} = {i}\n" for i in range(k, min(k + 40, 130))),
            "replace": "",
            "rationale": "unused",
        }
        for k in (0, 40, 80, 120)
    ]
    _, _, (res,) = agent_on_merge(
        tmp_path, standin, ({"app.py": base}, {"app.py": fork}, {"app.py": up}), answer(*drop), answer()
    )
    assert res.outcome == "resolved"
    text = (res.content or b"").decode()
    assert "X0 = 0\n" not in text and "X119 = 119\n" not in text  # 120 lines: within the budget
    assert "X120 = 120\n" in text  # the fourth edit would pass it
    # Refused with its reason; the model's second answer leaves it out, so nothing stays refused.
    assert "may find at most 120 lines and write 120 in one file (130 and 0 with this one)" in sent(
        standin, 1
    )
    assert res.agent_edits == 3 and "refused" not in res.reason
