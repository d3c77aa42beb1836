"""Token and money budgets: refused before a call that would pass them; costs from usage."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from forksync.errors import BudgetExceeded
from forksync.llm.agent import make_agent
from forksync.llm.budget import Budget
from forksync.llm.pricing import PriceTable
from tests.standins.llm_api import LLMStandIn
from tests.test_llm_common import (
    BASE_PY,
    FORK_PY,
    GOOD,
    UPSTREAM_PY,
    Merge,
    agent_config,
    check_runner,
    key_env_fixture,  # noqa: F401  (fixture)
    standin_fixture,  # noqa: F401  (fixture)
    submit,
)

pytestmark = pytest.mark.usefixtures("key_env")


def test_prices_match_longest_prefix_and_config_overrides() -> None:
    table = PriceTable({"claude-sonnet-4-6": (1.0, 2.0), "llama3": (0.0, 0.0)})
    assert table.lookup("claude-sonnet-4-6-20260101") == ((1.0, 2.0), True)
    assert table.lookup("claude-sonnet-4-0") == ((3.0, 15.0), True)
    assert table.cost("gpt-4.1-mini", 1_000_000, 500_000) == pytest.approx(0.4 + 0.8)
    assert table.cost("llama3:8b", 10_000, 10_000) == 0.0
    price, known = table.lookup("some-new-model")
    assert not known and price == max(table.table.values(), key=sum)


def test_budget_caps_the_answer_then_refuses() -> None:
    budget = Budget(max_tokens=3000, max_cost_usd=100.0, prices=PriceTable())
    assert budget.allow("gpt-4.1", 1000, 4096) == 2000
    budget.charge("gpt-4.1", 1000, 1500)
    assert budget.tokens == 2500 and budget.cost_usd == pytest.approx((1000 * 2 + 1500 * 8) / 1e6)
    with pytest.raises(BudgetExceeded, match="budget reached: 2500 of 3000 tokens"):
        budget.allow("gpt-4.1", 400, 4096)
    money = Budget(max_tokens=10**9, max_cost_usd=0.01, prices=PriceTable())
    assert money.allow("gpt-4.1", 1000, 4096) == 1000  # (0.01 - 0.002) USD buys 1000 output tokens at $8/M
    with pytest.raises(BudgetExceeded):
        money.allow("gpt-4.1", 4900, 4096)


def two_file_merge(tmp_path: Path) -> Merge:
    lib = {
        k: v.replace("greet", "welcome")
        for k, v in (("base", BASE_PY), ("fork", FORK_PY), ("upstream", UPSTREAM_PY))
    }
    return Merge(
        tmp_path,
        {"app.py": BASE_PY, "lib.py": lib["base"]},
        {"app.py": FORK_PY, "lib.py": lib["fork"]},
        {"app.py": UPSTREAM_PY, "lib.py": lib["upstream"]},
    )


def test_budget_exhausted_stops_cleanly_and_keeps_what_is_done(tmp_path: Path, standin: LLMStandIn) -> None:
    # Measure one call, then allow exactly one: the first file is resolved, the second is not sent.
    probe = two_file_merge(tmp_path / "probe")
    cfg = agent_config(standin)
    standin.add(submit((1, GOOD, "merged")))
    ctx = probe.context(cfg)
    versions, results = probe.engine(ctx)
    bot = make_agent(cfg, tmp_path / "probe-artifacts")
    assert bot is not None
    bot.resolve_remaining(ctx, versions[:1], results[:1])
    (call,) = bot.calls
    estimate = json.loads(Path(call.artifact).read_text())["request"]["estimated_input_tokens"]
    used = call.input_tokens + call.output_tokens

    merge = two_file_merge(tmp_path / "run")
    cfg = agent_config(standin, max_tokens=estimate + 256 + used // 2)
    standin.requests.clear()
    standin.add(submit((1, GOOD, "merged")))
    ctx = merge.context(cfg)
    versions, results = merge.engine(ctx)
    bot = make_agent(cfg, tmp_path / "artifacts")
    assert bot is not None
    first, second = bot.resolve_remaining(ctx, versions, results)
    assert first.outcome == "resolved" and second.outcome == "unresolved"
    assert "not sent to the agent: LLM budget reached" in second.reason
    assert second.content == results[1].content  # untouched, markers kept for review
    assert bot.exhausted is not None and len(standin.requests) == 1 and len(bot.calls) == 1
    assert bot.budget.tokens == bot.calls[0].input_tokens + bot.calls[0].output_tokens


def test_zero_money_budget_sends_nothing(tmp_path: Path, standin: LLMStandIn) -> None:
    merge = two_file_merge(tmp_path)
    cfg = agent_config(standin, max_cost_usd=0.0)
    ctx = merge.context(cfg)
    versions, results = merge.engine(ctx)
    bot = make_agent(cfg, tmp_path / "artifacts")
    assert bot is not None
    out = bot.resolve_remaining(ctx, versions, results)
    assert [r.outcome for r in out] == ["unresolved", "unresolved"] and standin.requests == []
    assert isinstance(bot.exhausted, BudgetExceeded) and bot.exhausted.exit_code == 12


def test_cost_is_charged_from_usage_at_the_configured_price(tmp_path: Path, standin: LLMStandIn) -> None:
    merge = two_file_merge(tmp_path)
    cfg = agent_config(standin, prices={"claude-sonnet-4-6": (10.0, 100.0)})
    standin.add(submit((1, GOOD, "merged")), submit((1, GOOD.replace("greet", "welcome"), "merged")))
    ctx = merge.context(cfg)
    versions, results = merge.engine(ctx)
    bot = make_agent(cfg, tmp_path / "artifacts")
    assert bot is not None
    assert [r.outcome for r in bot.resolve_remaining(ctx, versions, results)] == ["resolved", "resolved"]
    for call, seen in zip(bot.calls, standin.requests, strict=True):
        body = seen.body
        expected_in = (
            len(
                json.dumps(
                    [body.get("system", ""), body["messages"], body["tools"]],
                    ensure_ascii=False,
                )
            )
            + 3
        ) // 4
        assert call.input_tokens == expected_in  # the API's usage field, not our estimate
        assert call.cost_usd == pytest.approx((call.input_tokens * 10 + call.output_tokens * 100) / 1e6)
    assert bot.budget.cost_usd == pytest.approx(sum(c.cost_usd for c in bot.calls))


def test_budget_reached_mid_fix_undoes_the_edits(tmp_path: Path, standin: LLMStandIn) -> None:
    from tests.gitutil import Repo
    from tests.standins.llm_api import Reply

    repo = Repo(tmp_path / "repo")
    repo.commit(
        {
            "calc.py": "def add(a, b):\n    return a - b\n",
            "check.py": "import calc\nassert calc.add(2, 3) == 5\n",
        },
        "merge",
    )
    rerun = check_runner(repo.path, {"tests": [sys.executable, "check.py"]})
    edit = Reply(tool_calls=[("apply_edit", {"path": "calc.py", "old_text": "a - b", "new_text": "a + b"})])
    standin.add(edit)
    probe = make_agent(agent_config(standin), tmp_path / "probe")
    assert probe is not None
    shutil.copy(repo.path / "calc.py", tmp_path / "calc.bak")
    standin.add(Reply(text="done"))
    probe.fix_checks(repo.path, [rerun("tests")], rerun)
    repo.git("reset", "-q", "--hard", "HEAD~1")  # forget the probe's commit
    estimate = json.loads(Path(probe.calls[0].artifact).read_text())["request"]["estimated_input_tokens"]

    standin.requests.clear()
    standin.add(edit)
    bot = make_agent(agent_config(standin, max_tokens=estimate + 300), tmp_path / "artifacts")
    assert bot is not None
    assert bot.fix_checks(repo.path, [rerun("tests")], rerun) == []
    assert isinstance(bot.exhausted, BudgetExceeded) and len(standin.requests) == 1
    assert (repo.path / "calc.py").read_text() == (tmp_path / "calc.bak").read_text()
    assert repo.git("status", "--porcelain") == ""
