"""hypervisor_info and guest_budget as real tasks against qemu:///system."""

from __future__ import annotations

import os
import subprocess

GIB = 1024**3


def defined_guests() -> list[str]:
    out = subprocess.run(["virsh", "-c", "qemu:///system", "list", "--all", "--name"], capture_output=True, text=True, check=True)
    return sorted(filter(None, out.stdout.split()))


def meminfo_bytes() -> int:
    with open("/proc/meminfo") as f:
        return int(next(line for line in f if line.startswith("MemTotal")).split()[1]) * 1024


def test_hypervisor_info_reports_this_host_and_its_budget(libvirtd, run_task):
    result = run_task("hyperdock.platform.hypervisor_info", {"reserved_memory": "1G", "memory_overcommit": 1.5}, check=True)
    hv = result["hypervisor"]
    assert result["changed"] is False
    assert hv["cpus"] == os.cpu_count()
    assert abs(hv["memory_bytes"] - meminfo_bytes()) < 64 * 1024**2
    assert hv["accelerator"] in ("kvm", "tcg")
    assert "/dev/kvm" in hv["accelerator_reason"] or "kvm" in hv["accelerator_reason"].lower()
    expected = int((hv["memory_bytes"] - GIB) * 1.5)
    assert abs(hv["budget"]["memory_bytes"] - expected) < 1024**2
    assert hv["free"]["memory_bytes"] == hv["budget"]["memory_bytes"] - hv["guests"]["memory_bytes"]
    assert sorted(hv["guests"]["names"]) == defined_guests()


def test_hypervisor_info_bad_input_names_the_option(libvirtd, run_task):
    result = run_task("hyperdock.platform.hypervisor_info", {"reserved_memory": "2X"}, expect_failure=True)
    assert result["msg"].startswith("reserved_memory: '2X' is not valid")
    assert "Traceback" not in str(result)


def test_hypervisor_info_unreachable_uri_names_the_uri(run_task):
    result = run_task("hyperdock.platform.hypervisor_info", {"uri": "qemu+unix:///system?socket=/nonexistent.sock"}, expect_failure=True)
    assert result["msg"].startswith("uri: 'qemu+unix:///system?socket=/nonexistent.sock': cannot connect to libvirt")


def test_guest_budget_fits_and_refuses_without_changing_anything(libvirtd, run_task):
    before = defined_guests()
    # Generous ratios: whatever else is defined on this host, one small guest fits.
    ok = run_task("hyperdock.platform.guest_budget", {"cpu_overcommit": 64.0, "memory_overcommit": 64.0,
                                                      "guests": [{"name": "budget-small", "vcpus": 1, "memory": "256M"}]})
    assert ok["fits"] is True
    assert {"name": "budget-small", "vcpus": 1, "memory": "256M", "source": "planned"} in ok["guests"]

    refused = run_task("hyperdock.platform.guest_budget",
                       {"reserved_memory": "1G", "guests": [{"name": "budget-huge", "vcpus": 1, "memory": "4T"}]},
                       expect_failure=True)
    assert "guest budget of hypervisor" in refused["msg"]
    assert "memory: the guests need" in refused["msg"]
    assert "budget-huge 4T (planned)" in refused["msg"]
    assert f"but the budget is {refused['budget']['memory']}" in refused["msg"]
    assert defined_guests() == before
