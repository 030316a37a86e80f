"""Settings: the workflow file with what checking it says, for operators only."""

from __future__ import annotations

from pathlib import Path

from core.console import WebRole
from tests.console_harness import running


async def test_operators_see_the_workflow_file_and_its_problems(tmp_path: Path) -> None:
    async for console in running(tmp_path):
        await console.add_user("ops", WebRole.OPERATOR)
        await console.add_user("li", WebRole.GRID_LEADER, person="李网格")
        ops = console.visitor()
        await ops.login("ops")
        page = (await ops.get("/settings")).text
        # No file at the configured path: the built-in example, checked and shown.
        assert "内置示例" in page and 'id="config-ok"' in page and "escalation_policies" in page
        assert "检查通过：1 个问候计划，1 个报警流程，2 个团队" in page  # in the account's words
        assert "ops" in page and "李网格" in page  # accounts, with who they act as
        config = tmp_path / "absent.yaml"
        config.write_text("timezone: Asia/Shanghai\nplans:\n  daily: {schedule: nope}\n")
        console.settings.config = config
        page = (await ops.get("/settings")).text
        assert 'id="config-problems"' in page and "plans.daily.schedule" in page
        assert "nope" in page
        li = console.visitor()
        await li.login("li")
        assert (await li.get("/settings")).status == 403
        assert "/settings" not in (await li.get("/")).text
