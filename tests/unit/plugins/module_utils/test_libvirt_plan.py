"""The guest planner, pure (no daemon), and plan == real run against libvirt's in-memory test driver."""

from __future__ import annotations

import itertools

import pytest

from ansible_collections.hyperdock.platform.plugins.module_utils._libvirt_domain import parse, render
from ansible_collections.hyperdock.platform.plugins.module_utils._libvirt_plan import (
    Actual,
    parse_request,
    plan_guest,
    target_spec,
)
from ansible_collections.hyperdock.platform.plugins.module_utils._units import LimitError

BASE = dict(name="g", vcpus=1, max_vcpus=4, memory="256M", max_memory="1G", cpu_shares=512,
            interfaces=[{"network": "default"}], disks=[{"path": "/img/g.qcow2"}])
VOLUMES = {"/img/g.qcow2": 1024 ** 3}


def existing(state: str = "shutoff", **overrides) -> Actual:
    """An Actual for a guest that was defined from BASE (+overrides) by a previous run."""
    req = parse_request(dict(BASE, **overrides))
    spec = parse(render(target_spec(req, None, "kvm")))
    spec.uuid = "5f0c6b0e-0000-4000-8000-000000000001"
    return Actual(inactive=spec, live=parse(render(spec)) if state != "shutoff" else None, state=state,
                  volumes=dict(VOLUMES))


def plan(params: dict, actual: Actual, domain_type: str = "kvm"):
    return plan_guest(parse_request(dict(BASE, **params)), actual, domain_type)


def kinds(gplan) -> list[str]:
    return [a.kind for a in gplan.plan.actions]


def test_new_guest_is_created_with_stable_macs_and_host_passthrough_on_kvm():
    gp = plan({"state": "running"}, Actual(volumes=dict(VOLUMES)))
    assert kinds(gp) == ["create", "start"]
    assert gp.target.cpu_mode == "host-passthrough"
    again = plan({"state": "running"}, Actual(volumes=dict(VOLUMES)))
    assert gp.target.interfaces[0].mac == again.target.interfaces[0].mac
    assert plan({}, Actual(volumes=dict(VOLUMES)), "qemu").target.cpu_mode is None  # TCG: no host-passthrough


@pytest.mark.parametrize("state", ["shutoff", "running"])
def test_second_identical_run_changes_nothing(state):
    gp = plan({"state": "running" if state == "running" else "present"}, existing(state))
    assert gp.plan.actions == [] and not gp.plan.changed


def test_macs_and_uuid_survive_updates():
    actual = existing()
    actual.inactive.interfaces[0].mac = "52:54:00:de:ad:01"  # made by someone else, e.g. virt-install
    gp = plan({"interfaces": [{"network": "default"}, {"bridge": "br0"}], "memory": "512M"}, actual)
    assert gp.target.interfaces[0].mac == "52:54:00:de:ad:01"
    assert gp.target.uuid == actual.inactive.uuid
    assert gp.pending_reboot == []  # not running: everything is simply persisted
    assert kinds(gp) == ["update"]


def test_running_guest_changes_split_into_live_and_next_boot():
    gp = plan({"vcpus": 2, "memory": "512M", "cpu_shares": 1024, "cpu_quota": 50000, "cpu_period": 100000,
               "memory_hard_limit": "2G", "blkio_weight": 500, "max_memory": "2G", "machine": "q35"},
              existing("running"))
    assert kinds(gp) == ["update_live", "update_next_boot"]
    assert gp.applied_live == ["vcpus", "memory", "cpu_shares", "cpu_quota", "cpu_period", "memory_hard_limit", "blkio_weight"]
    assert gp.pending_reboot == ["max_memory", "machine"]
    live = gp.plan.actions[0].as_dict()["changes"]
    assert live["memory"] == {"before": "256M", "after": "512M"}
    assert live["memory_hard_limit"] == {"before": None, "after": "2G"}


def test_vcpus_above_the_running_maximum_wait_for_the_next_boot():
    gp = plan({"vcpus": 6, "max_vcpus": 8}, existing("running"))
    assert gp.applied_live == []
    assert set(gp.pending_reboot) == {"vcpus", "max_vcpus"}


def test_iotune_is_live_per_disk():
    gp = plan({"disks": [{"path": "/img/g.qcow2", "iotune": {"total_bytes_sec": "10M", "read_iops_sec": 100}}]},
              existing("running"))
    assert gp.applied_live == ["disks.vda.iotune"]
    assert gp.plan.actions[0].as_dict()["changes"]["disks.vda.iotune"] == {
        "before": {}, "after": {"read_iops_sec": 100, "total_bytes_sec": "10M"}}
    # A disk entry without iotune leaves the limits alone.
    actual = existing("running", disks=[{"path": "/img/g.qcow2", "iotune": {"total_iops_sec": 10}}])
    assert plan({"disks": [{"path": "/img/g.qcow2"}]}, actual).plan.actions == []


def test_apply_next_boot_touches_nothing_live():
    gp = plan({"memory": "512M", "apply": "next_boot"}, existing("running"))
    assert kinds(gp) == ["update_next_boot"] and gp.applied_live == [] and gp.pending_reboot == ["memory"]


def test_apply_reboot_restarts_only_when_needed():
    assert kinds(plan({"max_memory": "2G", "apply": "reboot"}, existing("running"))) == ["update_next_boot", "restart"]
    assert kinds(plan({"memory": "512M", "apply": "reboot"}, existing("running"))) == ["update_live"]


@pytest.mark.parametrize("now,wanted,expected", [
    ("shutoff", "running", ["start"]), ("running", "running", []), ("paused", "running", ["resume"]),
    ("running", "stopped", ["stop"]), ("shutoff", "stopped", []), ("running", "paused", ["pause"]),
    ("shutoff", "paused", ["start", "pause"]), ("running", "absent", ["stop", "delete"]), ("shutoff", "absent", ["delete"]),
    ("running", "present", []),
])
def test_power_states(now, wanted, expected):
    assert kinds(plan({"state": wanted}, existing(now))) == expected


def test_absent_guest_that_does_not_exist_is_no_change():
    assert plan({"state": "absent"}, Actual()).plan.actions == []


def test_machine_alias_matches_the_expanded_machine():
    actual = existing()
    actual.inactive.machine = "pc-q35-7.2"
    assert plan({"machine": "q35"}, actual).plan.actions == []
    assert kinds(plan({"machine": "pc"}, actual)) == ["update"]


@pytest.mark.parametrize("params,message", [
    ({"memory": "2X"}, r"^memory: '2X' is not valid; expected .*512M or 2G"),
    ({"vcpus": 8, "max_vcpus": 4}, r"^vcpus: 8 is not valid; expected at most max_vcpus \(4\)"),
    ({"memory_hard_limit": "128M"}, r"^memory_hard_limit: '128M' is not valid; expected at least the guest's memory"),
    ({"swap_hard_limit": "1G", "memory_hard_limit": "2G"}, r"^swap_hard_limit: '1G' .* at least memory_hard_limit"),
    ({"blkio_weight": 5}, r"^blkio_weight: 5 is not valid"),
    ({"cpu_quota": 10}, r"^cpu_quota: 10 is not valid"),
    ({"cpu_pinning": {"0": "a-b"}}, r"^cpu_pinning.0: 'a-b' is not valid"),
    ({"interfaces": [{"network": "default", "bridge": "br0"}]}, r"^interfaces\[0\]: .*exactly one of network or bridge"),
    ({"interfaces": [{"network": "default", "mac": "52:54:zz:00:00:01"}]}, r"^interfaces\[0\].mac: '52:54:zz:00:00:01'"),
    ({"disks": [{"path": "/img/g.qcow2", "iotune": {"total_bytes_sec": "fast"}}]}, r"^disks\[0\].iotune.total_bytes_sec: 'fast'"),
    ({"disks": [{"path": "/img/g.qcow2", "size": "2X"}]}, r"^disks\[0\].size: '2X'"),
])
def test_bad_input_names_option_and_value(params, message):
    with pytest.raises(LimitError, match=message):
        plan(params, existing())


def test_limit_below_existing_memory_is_refused():
    with pytest.raises(LimitError, match=r"^memory_hard_limit: '128M' .*at least the guest's memory \(256M\)"):
        plan({"memory_hard_limit": "128M", "memory": None, "max_memory": None}, existing())


def test_disks_are_never_created_implicitly_nor_shrunk():
    with pytest.raises(LimitError, match=r"^disks\[0\]: '/img/new.qcow2' .*does not exist; give size or base_image"):
        plan({"disks": [{"path": "/img/new.qcow2"}]}, existing())
    with pytest.raises(LimitError, match=r"^disks\[0\].size: '512M' .*never shrunk"):
        plan({"disks": [{"path": "/img/g.qcow2", "size": "512M"}]}, existing())
    gp = plan({"disks": [{"path": "/img/g.qcow2", "size": "2G"}, {"path": "/img/new.qcow2", "size": "1G"}]}, existing())
    assert [(a.kind, a.target) for a in gp.plan.actions] == [
        ("update", "volume:/img/g.qcow2"), ("create", "volume:/img/new.qcow2"), ("update", "g")]
    assert gp.target.disks[1].target == "vdb" and gp.target.disks[1].format == "qcow2"


def test_cloud_init_seed_is_regenerated_only_when_its_content_changes():
    seed = {"user_data": {"packages": ["nginx"]}, "ssh_authorized_keys": ["ssh-ed25519 AAAA me"], "path": "/img/seed.iso"}
    actual = existing(cloud_init=seed)
    first = plan({"cloud_init": seed}, actual)
    assert [c.option for a in first.plan.actions for c in a.changes] == ["cloud_init"]
    actual.seed = parse_request(dict(BASE, cloud_init=seed)).seed
    assert plan({"cloud_init": seed}, actual).plan.actions == []
    assert "ssh-ed25519 AAAA me" in actual.seed["user-data"] and actual.seed["user-data"].startswith("#cloud-config")
    assert any(d.device == "disk" and d.bus == "virtio" and d.readonly and d.path == "/img/seed.iso" for d in first.target.disks)


def test_overlay_difference_is_a_change():
    actual = existing()
    actual.overlay_xml = "<domain><features><pae/></features></domain>"
    assert [c.option for a in plan({}, actual).plan.actions for c in a.changes] == ["xml"]


def test_diff_has_before_and_after_in_module_vocabulary():
    gp = plan({"memory": "512M"}, existing())
    diff = gp.plan.diff()
    assert diff["before"]["memory"] == "256M" and diff["after"]["memory"] == "512M"


# ---------------------------------------------------------------- check mode == real run (test:///default)

libvirt = pytest.importorskip("libvirt")
_names = itertools.count()

CHANGES = {
    "vcpus": {"vcpus": 2},
    "memory": {"memory": "512M"},
    "max_vcpus": {"max_vcpus": 8},
    "max_memory": {"max_memory": "2G"},
    "cpu_shares": {"cpu_shares": 2048},
    "cpu_quota_period": {"cpu_quota": 20000, "cpu_period": 100000},
    "memtune": {"memory_hard_limit": "2G", "memory_soft_limit": "1G", "swap_hard_limit": "3G"},
    "blkio_weight": {"blkio_weight": 700},
    "cpu_pinning": {"cpu_pinning": {"0": "0-1"}},
    "cpu_model": {"cpu_model": "qemu64"},
    "kernel": {"kernel": "/img/vmlinuz", "cmdline": "console=ttyS0"},
    "interfaces": {"interfaces": [{"network": "default"}, {"network": "default", "mac": "52:54:00:00:00:99"}]},
    "disks": {"disks": [{"path": "/img/g.qcow2", "cache": "none", "iotune": {"total_iops_sec": 300}}]},
    "autostart": {"autostart": True},
    "stopped": {"state": "stopped"},
    "paused": {"state": "paused"},
    "absent": {"state": "absent"},
}


# The test driver has no live scheduler, pinning or iotune calls: on a running guest those are asserted
# against real QEMU in tests/integration/test_guest.py.
NOT_LIVE_ON_TEST_DRIVER = {"cpu_pinning", "cpu_quota_period", "cpu_shares", "disks"}
# Already in the wanted state: no change to predict (asserted by test_power_states).
NO_CHANGE_WHEN_OFF = {"stopped"}


# Only the combinations that mean something: no case is generated just to be skipped.
PREDICTION_CASES = [
    pytest.param(change, running, id=f"{'running' if running else 'shutoff'}-{change}")
    for running in (False, True)
    for change in sorted(CHANGES)
    if not (running and change in NOT_LIVE_ON_TEST_DRIVER) and not (not running and change in NO_CHANGE_WHEN_OFF)
]


@pytest.mark.parametrize(("change", "running"), PREDICTION_CASES)
def test_check_mode_predicts_the_real_run(change, running, tmp_path):
    """Plan (what check mode reports), apply, read back: the guest is what the plan said, and a re-plan is empty."""
    from ansible_collections.hyperdock.platform.plugins.module_utils import _libvirt_apply as ap

    image = tmp_path / "g.qcow2"
    image.write_bytes(b"\0" * 4096)
    name = f"g{next(_names)}"
    base = dict(BASE, name=name, disks=[{"path": str(image)}], state="running" if running else "present",
                interfaces=[{"network": "default"}])
    conn = libvirt.open("test:///default")
    try:
        req = parse_request(base)
        ap.apply_plan(conn, req, plan_guest(req, ap.read_actual(conn, req), "test"), 5, True, False)
        params = dict(base, **CHANGES[change])
        for disk in params["disks"]:
            disk["path"] = str(image)
        req = parse_request(params)
        predicted = plan_guest(req, ap.read_actual(conn, req), "test")
        assert predicted.plan.changed
        ap.apply_plan(conn, req, predicted, 5, True, False)
        after = ap.read_actual(conn, req)
        replan = plan_guest(req, after, "test")
        assert replan.plan.actions == [], replan.plan.as_list()
        if req.state == "absent":
            assert after.inactive is None
            return
        assert replan.plan.before == predicted.plan.after
    finally:
        conn.close()
