from __future__ import annotations

import pytest

from ansible_collections.hyperdock.platform.plugins.module_utils import _hypervisor as hv
from ansible_collections.hyperdock.platform.plugins.module_utils import _libvirt as backend
from ansible_collections.hyperdock.platform.plugins.module_utils._units import LimitError

GIB = 1024**3
PARAMS = {"reserved_memory": "1G", "reserved_cpus": 0, "cpu_overcommit": 1.0, "memory_overcommit": 1.0, "probe_kvm": False}


def test_budget_is_host_less_reserved_times_overcommit():
    budget = hv.compute_budget(cpus=8, memory_bytes=32 * GIB, reserved_cpus=2, reserved_memory=2 * GIB,
                               cpu_overcommit=2.0, memory_overcommit=1.5)
    assert budget == hv.Budget(cpus=12, memory_bytes=45 * GIB)


def test_budget_never_goes_below_zero_and_is_whole_mib():
    assert hv.compute_budget(2, GIB, 4, 2 * GIB, 1.0, 1.0) == hv.Budget(0, 0)
    assert hv.compute_budget(1, GIB + 12345, 0, 0, 1.0, 1.0).memory_bytes == GIB


@pytest.mark.parametrize(("option", "value", "expected"), [
    ("reserved_memory", "2X", "reserved_memory: '2X' is not valid"),
    ("reserved_cpus", -1, "reserved_cpus: -1 is not valid"),
    ("memory_overcommit", 0.0, "memory_overcommit: 0.0 is not valid; expected a ratio greater than 0"),
])
def test_bad_budget_options_name_option_and_value(option, value, expected):
    with pytest.raises(LimitError, match="^" + expected.replace("(", r"\(")):
        hv.validate_options(dict(PARAMS, **{option: value}))


def test_version_text():
    assert hv.version_text(9000000) == "9.0.0"
    assert hv.version_text(7002022) == "7.2.22"


def test_facts_from_the_test_driver_count_its_guest_against_the_budget():
    conn = backend.connect("test:///default")
    try:
        facts = hv.hypervisor_facts(conn, PARAMS, hv.validate_options(PARAMS))
        dom = conn.lookupByName("test")
        max_kib = dom.info()[1]
    finally:
        conn.close()
    assert facts["driver"] == "test"
    assert facts["accelerator"] == "test"
    assert facts["guests"]["names"] == ["test"]
    assert facts["guests"]["running"] == 1
    assert facts["guests"]["memory_bytes"] == max_kib * 1024
    budget = facts["budget"]["memory_bytes"]
    assert budget == facts["memory_bytes"] - GIB
    assert facts["free"]["memory_bytes"] == budget - max_kib * 1024
    assert facts["free"]["memory"] == hv.signed_size(budget - max_kib * 1024)
    assert facts["budget"]["reserved_memory"] == "1G"


def test_signed_size_marks_overcommit():
    assert hv.signed_size(-2 * GIB) == "-2G"
    assert hv.signed_size(512 * 1024 * 1024) == "512M"


def test_planned_guests_count_their_ceilings():
    planned = hv.planned_allocations([{"name": "web", "vcpus": 1, "max_vcpus": 2, "memory": "1G", "max_memory": "2G"},
                                      {"name": "db", "vcpus": 1, "memory": "512M"}])
    assert planned == [hv.Allocation("web", 2, 2 * GIB), hv.Allocation("db", 1, 512 * 1024**2)]


@pytest.mark.parametrize(("guest", "expected"), [
    ({"name": "web", "vcpus": 1, "memory": "2X"}, "guests[web].memory: '2X' is not valid"),
    ({"name": "web", "vcpus": 1}, "guests[web]: "),
    ({"vcpus": 1, "memory": "1G"}, "guests[0].name: None"),
])
def test_planned_guests_bad_input_names_guest_and_option(guest, expected):
    with pytest.raises(LimitError) as err:
        hv.planned_allocations([guest])
    assert str(err.value).startswith(expected)


def test_budget_fits_when_planned_replaces_defined_guest_of_same_name():
    existing = [hv.Allocation("web", 4, 4 * GIB), hv.Allocation("other", 1, GIB)]
    planned = [hv.Allocation("web", 1, GIB)]
    members, problems = hv.check_budget(existing, planned, hv.Budget(2, 2 * GIB), "hv1")
    assert problems == []
    assert [(m["name"], m["source"]) for m in members] == [("other", "defined"), ("web", "planned")]


def test_budget_overcommit_names_hypervisor_budget_sum_and_members():
    existing = [hv.Allocation("old", 1, GIB)]
    planned = [hv.Allocation("web", 2, 4 * GIB), hv.Allocation("db", 1, 2 * GIB)]
    _members, problems = hv.check_budget(existing, planned, hv.Budget(8, 5 * GIB), "lab (qemu:///system)")
    assert problems == ["guest budget of hypervisor lab (qemu:///system) exceeded: memory: the guests need 7G "
                        "(old 1G (defined), web 4G (planned), db 2G (planned)) but the budget is 5G"]
    _members, problems = hv.check_budget([], planned, hv.Budget(2, 50 * GIB), "lab")
    assert problems == ["guest budget of hypervisor lab exceeded: vcpus: the guests need 3 (web 2 (planned), db 1 (planned)) but the budget is 2"]
