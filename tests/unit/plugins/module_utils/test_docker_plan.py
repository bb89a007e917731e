"""The pure planner: what changes live, what recreates, order, budget."""

from __future__ import annotations

import pytest

from ansible_collections.hyperdock.platform.plugins.module_utils._docker_plan import (
    Actual,
    Resource,
    check_budget,
    check_ports,
    plan_services,
    recreated_because,
    topological_levels,
)
from ansible_collections.hyperdock.platform.plugins.module_utils._docker_spec import SpecError, normalize_service

IMAGE = "hyperdock/busybox:latest"
LIVE = {"memory": None, "memory_reservation": None, "memory_swap": None, "cpus": None, "cpu_shares": None,
        "cpu_period": None, "cpu_quota": None, "cpuset_cpus": None, "cpuset_mems": None, "pids_limit": -1,
        "blkio_weight": None, "restart_policy": "no"}


def svc(name="web", **options):
    return normalize_service(name, dict({"image": IMAGE}, **options), project="p")


def running(service, running=True, **live):
    """The container a previous run created for ``service``, with engine defaults and ``live`` overrides."""
    spec = dict(LIVE)
    spec.update({k: v for k, v in service.spec.items() if v is not None})
    if spec.get("memory") and not service.spec.get("memory_swap"):
        spec["memory_swap"] = {"64M": "128M", "128M": "256M", "256M": "512M"}.get(spec["memory"])
    spec.update(live)
    return Actual(service.name, service.container, "id-" + service.name, running, spec, service.config_hash, "sha256:aaa", "p")


def kinds(plan):
    return [(a.kind, a.target) for a in plan.actions]


def test_new_service_is_created_and_started():
    plan = plan_services([svc()], {})
    assert kinds(plan) == [("create", "web"), ("start", "web")]
    assert plan.before["web"] == {"state": "absent"}
    assert plan.after["web"]["state"] == "started"


def test_present_creates_without_starting():
    assert kinds(plan_services([svc(state="present")], {})) == [("create", "web")]


def test_identical_run_plans_nothing_even_with_engine_defaults():
    desired = svc(memory="128M", cpus="0.5", pids_limit=20)
    assert not plan_services([desired], {"web": running(desired)}, {IMAGE: "sha256:aaa"}).changed


def test_limits_change_live():
    old = svc(memory="128M", cpus="0.5", pids_limit=20)
    new = svc(memory="256M", cpus="1", pids_limit=30, cpu_shares=512, restart_policy="always")
    plan = plan_services([new], {"web": running(old)})
    assert kinds(plan) == [("update_live", "web")]
    changes = {c.option: (c.before, c.after) for c in plan.actions[0].changes}
    assert changes == {"memory": ("128M", "256M"), "cpus": ("0.5", "1"), "pids_limit": (20, 30), "cpu_shares": (None, 512),
                       "restart_policy": ("no", "always"), "memory_swap": ("256M", "512M")}
    assert plan.after["web"]["memory"] == "256M" and plan.before["web"]["memory"] == "128M"
    assert recreated_because(plan) == {}


def test_declared_swap_is_not_overridden():
    old = svc(memory="128M", memory_swap="1G")
    new = svc(memory="256M", memory_swap="1G")
    plan = plan_services([new], {"web": running(old)})
    assert [c.option for c in plan.actions[0].changes] == ["memory"]


@pytest.mark.parametrize("change, option", [({"env": {"A": "2"}}, "env"), ({"ports": ["8080:80"]}, "ports"),
                                            ({"ulimits": {"nofile": 10}}, "ulimits"), ({"volumes": ["v:/v"]}, "mounts"),
                                            ({"image": "other:1"}, "image"), ({"read_only": True}, "read_only")])
def test_other_changes_recreate_and_say_why(change, option):
    old = svc(env={"A": "1"}, memory="128M")
    new = svc(**dict({"env": {"A": "1"}, "memory": "256M"}, **change))
    plan = plan_services([new], {"web": running(old)})
    assert kinds(plan) == [("recreate", "web"), ("start", "web")]
    assert recreated_because(plan) == {"web": [option]}


def test_switching_between_cpus_and_cpu_quota_recreates():
    old = svc(cpus="0.5")
    plan = plan_services([svc(cpu_quota=50000, cpu_period=100000)], {"web": running(old)})
    assert recreated_because(plan) == {"web": ["cpus"]}
    plan = plan_services([svc(cpus="1")], {"web": running(svc(cpu_quota=50000))})
    assert recreated_because(plan) == {"web": ["cpu_quota"]}


def test_new_image_behind_same_tag_recreates():
    desired = svc()
    plan = plan_services([desired], {"web": running(desired)}, {IMAGE: "sha256:bbb"})
    assert recreated_because(plan) == {"web": ["image_id"]}


def test_foreign_container_with_same_name_is_recreated():
    desired = svc()
    actual = running(desired)
    actual.config_hash = None
    actual.spec = dict(actual.spec, env={"X": "1"})
    plan = plan_services([desired], {"web": actual})
    assert plan.of_kind("recreate")


def test_start_stop_and_absent():
    desired = svc()
    assert kinds(plan_services([desired], {"web": running(desired, running=False)})) == [("start", "web")]
    assert kinds(plan_services([svc(state="stopped")], {"web": running(desired)})) == [("stop", "web")]
    assert not plan_services([svc(state="present")], {"web": running(desired, running=False)}).changed
    assert kinds(plan_services([svc(state="absent")], {"web": running(desired)})) == [("delete", "web")]
    assert not plan_services([svc(state="absent")], {}).changed


def test_prune_and_resources():
    keep = svc()
    gone = running(svc("old"))
    plan = plan_services([keep], {"web": running(keep)}, prune=[gone],
                         resources=[Resource("network", "n1"), Resource("volume", "v1")], existing_resources={("volume", "v1")})
    assert kinds(plan) == [("create", "network:n1"), ("delete", "old")]
    assert plan.after["old"] == {"state": "absent"}


def test_depends_on_orders_waves_and_detects_cycles():
    a, b, c = svc("a"), svc("b", depends_on=["a"]), svc("c", depends_on=["a", "b"])
    assert [[s.name for s in level] for level in topological_levels([c, b, a])] == [["a"], ["b"], ["c"]]
    plan = plan_services([c, b, a], {})
    assert [a.target for a in plan.of_kind("create")] == ["a", "b", "c"]
    with pytest.raises(SpecError, match=r"depends_on: the services a -> b -> a form a cycle"):
        topological_levels([svc("a", depends_on=["b"]), svc("b", depends_on=["a"])])
    with pytest.raises(SpecError, match="service a: depends_on: 'zz' is not a declared service"):
        topological_levels([svc("a", depends_on=["zz"])])


def test_port_taken_by_two_services():
    with pytest.raises(SpecError, match="service b: ports: host port 8080/tcp is already published by service a"):
        check_ports([svc("a", ports=["8080:80"]), svc("b", ports=["127.0.0.1:8080:81"])])
    check_ports([svc("a", ports=["8080:80"]), svc("b", ports=["8080:80/udp"])])


def test_budget():
    services = [svc("a", memory="1G", cpus="1", pids_limit=100), svc("b", memory="2G", cpus="0.5", pids_limit=50)]
    report = check_budget(services, {"memory": 4 * 1024 ** 3, "cpus": 2 * 10 ** 9, "pids": None}, False)
    assert report["memory"] == {"used": "3G", "budget": "4G"}
    with pytest.raises(SpecError) as info:
        check_budget(services, {"memory": 2 * 1024 ** 3, "cpus": None, "pids": None}, False)
    assert str(info.value).startswith("budget: memory 2G is exceeded: the services sum to 3G (a 1G, b 2G)")
    with pytest.raises(SpecError, match=r"budget: cpus 1 is exceeded: the services sum to 1.5 \(a 1, b 0.5\)"):
        check_budget(services, {"memory": None, "cpus": 10 ** 9, "pids": None}, False)
    with pytest.raises(SpecError) as named:
        check_budget(services, {"memory": 2 * 1024 ** 3}, False, where="Docker host web1 (project shop)")
    assert str(named.value).startswith("service budget of Docker host web1 (project shop) exceeded; budget: memory 2G is exceeded")
    with pytest.raises(SpecError, match="service c: cpus, pids_limit not set; require_limits"):
        check_budget([svc("c", memory="1G")], {}, True)
    check_budget([svc("c", memory="1G", state="absent")], {"memory": 1}, True)


def test_budget_counts_other_containers_on_the_host_and_names_them():
    from ansible_collections.hyperdock.platform.plugins.module_utils._docker_plan import check_budget
    from ansible_collections.hyperdock.platform.plugins.module_utils._docker_spec import SpecError, normalize_service

    services = [normalize_service("web", {"image": "x", "memory": "256M"}, project="p")]
    others = {"legacy": {"memory": 512 * 2**20, "cpus": 0, "pids": 0}}
    report = check_budget(services, {"memory": 1024 * 2**20}, False, others)
    assert report["memory"]["used"] == "768M"
    with pytest.raises(SpecError) as err:
        check_budget(services, {"memory": 700 * 2**20}, False, others)
    assert "the services sum to 768M (other:legacy 512M, web 256M)" in str(err.value)
