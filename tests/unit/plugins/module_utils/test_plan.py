from __future__ import annotations

import pytest

from ansible_collections.hyperdock.platform.plugins.module_utils._plan import Change, Plan, changes_between


def test_empty_plan_is_not_a_change():
    plan = Plan()
    assert not plan.changed
    assert plan.as_list() == []


def test_plan_reports_actions_with_changes_in_order():
    plan = Plan(before={"memory": "1G"}, after={"memory": "2G"})
    plan.add("update_live", "web", [Change("memory", "1G", "2G")])
    plan.add("update_next_boot", "web", [Change("machine", "pc", "q35")], reason="machine type needs a reboot")
    assert plan.changed
    assert [a["action"] for a in plan.as_list()] == ["update_live", "update_next_boot"]
    assert plan.as_list()[0]["changes"] == {"memory": {"before": "1G", "after": "2G"}}
    assert plan.as_list()[1]["reason"] == "machine type needs a reboot"
    assert [a.target for a in plan.of_kind("update_next_boot")] == ["web"]
    assert plan.diff() == {"before": {"memory": "1G"}, "after": {"memory": "2G"}}


def test_unknown_action_kind_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown plan action kind 'explode'"):
        Plan().add("explode", "web")


def test_changes_between_ignores_unset_options():
    before = {"memory": "1G", "cpus": "1", "pids_limit": 100}
    after = {"memory": "2G", "cpus": None, "pids_limit": 100}
    assert changes_between(before, after) == [Change("memory", "1G", "2G")]


def test_changes_between_follows_the_given_option_order():
    before = {"a": 1, "b": 1}
    after = {"a": 2, "b": 2}
    assert [c.option for c in changes_between(before, after, ["b", "a"])] == ["b", "a"]
