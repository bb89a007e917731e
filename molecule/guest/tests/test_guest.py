"""What `molecule test -s guest` checks on the hypervisor instance: the guest
runs, with the resources and limits the inventory gave it, as libvirt reports
them, on a root volume backed by the base image, with its cloud-init seed."""

from __future__ import annotations

import os
import re

import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts("hypervisors")

VIRSH = "virsh -c qemu:///system"


def run(host, command: str) -> str:
    result = host.run(command)
    assert result.rc == 0, f"{command!r} failed (rc={result.rc}): {result.stderr or result.stdout}"
    return result.stdout.strip()


def fields(text: str) -> dict[str, str]:
    pairs = (line.partition(":") for line in text.splitlines())
    return {key.strip(): value.strip() for key, _sep, value in pairs if value}


def test_guest_runs_with_its_vcpus_and_memory(host):
    info = fields(run(host, f"{VIRSH} dominfo tiny"))
    assert info["State"] == "running"
    assert info["CPU(s)"] == "1"
    assert info["Max memory"] == f"{512 * 1024} KiB"
    assert info["Used memory"] == f"{384 * 1024} KiB"
    assert run(host, f"{VIRSH} vcpucount tiny --maximum --config") == "2"


def test_guest_is_tcg_inside_a_container(host):
    assert "<domain type='qemu'" in run(host, f"{VIRSH} dumpxml tiny")


def test_cpu_and_memory_limits_are_live(host):
    sched = fields(run(host, f"{VIRSH} schedinfo tiny --live"))
    assert sched["cpu_shares"] == "512"
    assert sched["vcpu_quota"] == "50000"
    assert sched["vcpu_period"] == "100000"
    memtune = fields(run(host, f"{VIRSH} memtune tiny --live"))
    assert memtune["soft_limit"] == str(768 * 1024)
    assert fields(run(host, f"{VIRSH} blkiotune tiny --config"))["weight"] == "300"
    # The guest's scope belongs to systemd, which takes libvirt's weight on the
    # IOWeight scale (1-10000, default 100) and writes it to BFQ's 1-1000 scale:
    # 100 + (300 - 100) * 900 / 9900 = 118.  libvirt reads the BFQ file back.
    assert fields(run(host, f"{VIRSH} blkiotune tiny --live"))["weight"] == str(100 + (300 - 100) * 900 // 9900)
    assert fields(run(host, f"{VIRSH} blkdeviotune tiny vda --live"))["total_iops_sec"] == "500"


def test_root_volume_is_backed_by_the_base_image(host):
    path = run(host, f"{VIRSH} vol-path tiny-root.qcow2 --pool default")
    image = run(host, f"qemu-img info -U {path}")
    assert "backing file: /var/cache/hyperdock/guest/current/rootfs.qcow2" in image or "backing file: /var/cache/hyperdock/guest/" in image
    assert re.search(r"virtual size: 5 GiB", image), image


def test_cloud_init_seed_is_attached(host):
    xml = run(host, f"{VIRSH} dumpxml tiny")
    seed = re.search(r"<source file='([^']+\.iso)'", xml)
    assert seed, xml
    assert host.file(seed.group(1)).exists


def guest_address(host) -> str:
    mac = re.search(r"<mac address='([0-9a-f:]+)'", run(host, f"{VIRSH} dumpxml tiny")).group(1)
    return re.search(r"(\d+\.\d+\.\d+\.\d+)/", run(host, f"{VIRSH} net-dhcp-leases default --mac {mac}")).group(1)


def test_cloud_init_made_the_admin_user_with_the_key_and_hostname(host):
    # Logging in with the key from the seed, as the seed's user, proves
    # cloud-init read the seed; the hostname and passwordless sudo come from it too.
    ssh = (f"ssh -i /root/.ssh/id_ed25519 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
           f"-o ConnectTimeout=10 -o BatchMode=yes hyperdock@{guest_address(host)}")
    result = None
    for _attempt in range(30):  # cloud-init may still be writing the user when sshd answers
        result = host.run(f"{ssh} 'hostname; sudo -n true && echo sudo-ok'")
        if result.rc == 0:
            break
        host.run("sleep 5")
    assert result.rc == 0, result.stderr
    assert result.stdout.split() == ["tiny", "sudo-ok"]
