"""What `molecule test -s hypervisor` checks inside the converged instance:
libvirtd answers, the pools and networks are defined and active, and the
capacity facts describe this host."""

from __future__ import annotations

import json
import os

import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts("all")

GIB = 1024**3


def run(host, command: str) -> str:
    result = host.run(command)
    assert result.rc == 0, f"{command!r} failed (rc={result.rc}): {result.stderr or result.stdout}"
    return result.stdout.strip()


def test_libvirtd_answers(host):
    assert host.service("libvirtd").is_running
    assert "Running hypervisor: QEMU" in run(host, "virsh -c qemu:///system version")


def test_qemu_mount_namespaces_are_off_in_a_container(host):
    assert "namespaces = []" in host.file("/etc/libvirt/qemu.conf").content_string


def test_pools_are_active_and_autostarted(host):
    for pool, path in (("default", "/var/lib/libvirt/images"), ("scratch", "/srv/scratch-pool")):
        info = run(host, f"virsh -c qemu:///system pool-info {pool}")
        assert "State:          running" in info, info
        assert "Autostart:      yes" in info, info
        assert f"<path>{path}</path>" in run(host, f"virsh -c qemu:///system pool-dumpxml {pool}")
        assert host.file(path).is_directory


def test_networks_are_active_with_their_addresses(host):
    nets = run(host, "virsh -c qemu:///system net-list --all --name").split()
    assert {"default", "backend"} <= set(nets)
    default = run(host, "virsh -c qemu:///system net-dumpxml default")
    assert "<forward mode='nat'" in default and "192.168.122.100" in default
    backend = run(host, "virsh -c qemu:///system net-dumpxml backend")
    assert "<forward" not in backend and "10.77.0.1" in backend
    for net in ("default", "backend"):
        assert "Active:         yes" in run(host, f"virsh -c qemu:///system net-info {net}")
    assert "10.77.0.1/24" in run(host, "ip -o addr show virbr9")


def test_capacity_facts_describe_this_host(host):
    capacity = json.loads(host.file("/root/hypervisor_capacity.json").content_string)
    cpus = int(run(host, "nproc --all"))
    mem_kib = int(run(host, "awk '/MemTotal/ {print $2}' /proc/meminfo"))
    assert capacity["type"] == "kvm"
    assert capacity["reboot_required"] is False
    assert capacity["cpus"] == cpus
    assert abs(capacity["memory_bytes"] - mem_kib * 1024) < 64 * 1024 * 1024
    # No /dev/kvm inside the instance: libvirt offers no kvm domain type, so
    # guests get TCG, and the reason says why.
    assert not host.file("/dev/kvm").exists
    assert capacity["accelerator"] == "tcg"
    assert "kvm" in capacity["accelerator_reason"] and "TCG" in capacity["accelerator_reason"]
    budget = capacity["budget"]
    assert budget["reserved_memory"] == "512M"
    expected = int((capacity["memory_bytes"] - 512 * 1024**2) * 1.5)
    assert abs(budget["memory_bytes"] - expected) < 1024**2
    assert budget["cpus"] == cpus
