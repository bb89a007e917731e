"""The base images made by scripts/images/build.sh, checked for real effects.

A missing image fails (never skips) with the command that builds it.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

BUSYBOX = "hyperdock/busybox:latest"
MOLECULE = os.environ.get("MOLECULE_IMAGE") or "hyperdock/debian12-systemd:latest"
GUEST = Path(os.environ.get("HYPERDOCK_CACHE", "/var/cache/hyperdock")) / "guest" / "current"
SYSTEMD_FLAGS = ["--cap-add", "SYS_ADMIN", "--tmpfs", "/run", "--tmpfs", "/run/lock",
                 "-v", "/sys/fs/cgroup:/sys/fs/cgroup:ro"]
VIRSH = ["virsh", "-c", "qemu:///system"]
# Boot to SSH under TCG takes 45-90 s on an idle host; a loaded 2-core host takes minutes.
BOOT_TIMEOUT = int(os.environ.get("HYPERDOCK_BOOT_TIMEOUT", "600"))


def run(cmd: list[str], timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def need_docker_image(image: str) -> None:
    if run(["docker", "image", "inspect", image], check=False).returncode != 0:
        pytest.fail(f"Docker image {image} is missing; run `make images` (scripts/images/build.sh all)", pytrace=False)


@pytest.fixture(scope="module")
def guest_dir() -> Path:
    missing = [name for name in ("vmlinuz", "initrd.img", "rootfs.qcow2", "cmdline") if not (GUEST / name).is_file()]
    if missing:
        pytest.fail(f"guest image {GUEST} lacks {', '.join(missing)}; run `make images` (scripts/images/build.sh guest)",
                    pytrace=False)
    return GUEST.resolve()


def test_busybox_runs_shell_and_sees_its_memory_limit(dockerd: str) -> None:
    need_docker_image(BUSYBOX)
    # cgroup v1 path first (this lab), v2 as the fallback.
    script = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max"
    out = run(["docker", "run", "--rm", "--memory", "64m", BUSYBOX, "sh", "-c", script]).stdout
    assert out.strip() == str(64 * 1024 * 1024)


def test_busybox_has_users_tmp_and_applets(dockerd: str) -> None:
    need_docker_image(BUSYBOX)
    script = "id nobody && test -k /tmp && touch /tmp/x && which httpd wget sleep"
    out = run(["docker", "run", "--rm", "--user", "nobody", BUSYBOX, "sh", "-c", script]).stdout
    assert "uid=65534(nobody)" in out
    assert [Path(path).name for path in out.split()[-3:]] == ["httpd", "wget", "sleep"]
    config = json.loads(run(["docker", "image", "inspect", BUSYBOX]).stdout)[0]["Config"]
    assert config["Cmd"] == ["sh"]


@pytest.fixture(scope="module")
def systemd_container(dockerd: str) -> Iterator[str]:
    need_docker_image(MOLECULE)
    name = f"hyperdock-imgtest-{secrets.token_hex(4)}"
    run(["docker", "run", "-d", "--name", name, *SYSTEMD_FLAGS, MOLECULE])
    try:
        yield name
    finally:
        run(["docker", "rm", "-f", name], check=False)


def test_molecule_image_boots_systemd_as_pid1(systemd_container: str) -> None:
    state = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        proc = run(["docker", "exec", systemd_container, "systemctl", "is-system-running"], check=False)
        state = proc.stdout.strip()
        if state in ("running", "degraded"):
            break
        time.sleep(1)
    failed = run(["docker", "exec", systemd_container, "systemctl", "--failed", "--no-legend"], check=False).stdout
    assert state in ("running", "degraded"), f"systemd state {state!r} after 60s; failed units:\n{failed}"
    assert run(["docker", "exec", systemd_container, "cat", "/proc/1/comm"]).stdout.strip() == "systemd"


def test_molecule_image_has_python3_and_sudo(systemd_container: str) -> None:
    assert run(["docker", "exec", systemd_container, "python3", "--version"]).stdout.startswith("Python 3.")
    assert run(["docker", "exec", systemd_container, "sudo", "-n", "true"]).returncode == 0


def test_molecule_image_apt_reaches_the_mirror(systemd_container: str) -> None:
    # Roles apt-get install inside it: the lists must be fetchable through Docker's NAT.
    run(["docker", "exec", systemd_container, "apt-get", "update", "-qq"], timeout=300)
    out = run(["docker", "exec", systemd_container, "apt-cache", "policy", "curl"]).stdout
    assert "Candidate:" in out and "Candidate: (none)" not in out


def test_guest_image_files_are_valid(guest_dir: Path) -> None:
    run(["qemu-img", "check", str(guest_dir / "rootfs.qcow2")])
    info = json.loads(run(["qemu-img", "info", "--output", "json", str(guest_dir / "rootfs.qcow2")]).stdout)
    assert info["format"] == "qcow2"
    assert info["virtual-size"] == 4 * 1024**3
    # The x86 boot protocol: "HdrS" at 0x202 marks a bzImage the kernel loader accepts.
    with (guest_dir / "vmlinuz").open("rb") as kernel:
        kernel.seek(0x202)
        assert kernel.read(4) == b"HdrS"
    assert (guest_dir / "initrd.img").stat().st_size > 1024 * 1024
    assert (guest_dir / "cmdline").read_text().split() == ["root=/dev/vda", "console=ttyS0"]


def domain_xml(name: str, mac: str, guest: Path, overlay: Path, seed: Path, console: Path) -> str:
    cmdline = (guest / "cmdline").read_text().strip()
    return f"""<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>1024</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>{guest / 'vmlinuz'}</kernel>
    <initrd>{guest / 'initrd.img'}</initrd>
    <cmdline>{cmdline}</cmdline>
  </os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='{overlay}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <!-- The cloud kernel has no AHCI: the seed is a CD-ROM on virtio-scsi. -->
    <controller type='scsi' model='virtio-scsi'/>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='{seed}'/>
      <target dev='sda' bus='scsi'/>
      <readonly/>
    </disk>
    <interface type='network'>
      <source network='default'/>
      <mac address='{mac}'/>
      <model type='virtio'/>
    </interface>
    <serial type='file'>
      <source path='{console}'/>
    </serial>
  </devices>
</domain>
"""


def lease_ip(mac: str) -> str | None:
    out = run([*VIRSH, "net-dhcp-leases", "default", "--mac", mac], check=False).stdout
    for line in out.splitlines():
        # "2026-11-23 16:49:32  52:54:00:..  ipv4  192.168.122.151/24  host  id": the expiry is two words.
        fields = line.split()
        if mac in fields:
            at = fields.index(mac)
            if fields[at + 1:at + 2] == ["ipv4"] and len(fields) > at + 2:
                return fields[at + 2].split("/")[0]
    return None


@pytest.mark.slow
def test_guest_boots_to_ssh(libvirtd: str, guest_dir: Path, scratch_dir: Path) -> None:
    # libvirt's qemu user must reach the overlay and the seed; mkdtemp made the dir 0700.
    scratch_dir.chmod(0o755)
    name = f"hyperdock-imgtest-{secrets.token_hex(4)}"
    mac = "52:54:00:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3))
    key = scratch_dir / "id_ed25519"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)])
    seed_dir = scratch_dir / "seed"
    seed_dir.mkdir()
    (seed_dir / "meta-data").write_text(f"instance-id: {name}\nlocal-hostname: {name}\n")
    (seed_dir / "user-data").write_text(
        "#cloud-config\nusers:\n  - name: hyperdock\n    sudo: ALL=(ALL) NOPASSWD:ALL\n    shell: /bin/bash\n"
        f"    ssh_authorized_keys: [{json.dumps(key.with_suffix('.pub').read_text().strip())}]\n")
    seed = scratch_dir / "seed.iso"
    run(["genisoimage", "-quiet", "-output", str(seed), "-volid", "cidata", "-joliet", "-rock",
         str(seed_dir / "user-data"), str(seed_dir / "meta-data")])
    # The overlay takes every write: the cached image is only ever read.
    overlay = scratch_dir / "overlay.qcow2"
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(guest_dir / "rootfs.qcow2"), str(overlay)])
    xml = scratch_dir / "domain.xml"
    console = scratch_dir / "console.log"
    xml.write_text(domain_xml(name, mac, guest_dir, overlay, seed, console))

    def console_tail() -> str:
        lines = console.read_text(errors="replace").splitlines() if console.exists() else ["(no console log)"]
        return "\n".join(lines[-40:])

    try:
        # libvirtd may re-probe QEMU's capabilities first (minutes when /dev/kvm exists but hangs).
        run([*VIRSH, "define", str(xml)], timeout=BOOT_TIMEOUT)
        run([*VIRSH, "start", name], timeout=BOOT_TIMEOUT)
        ip = None
        deadline = time.monotonic() + BOOT_TIMEOUT
        while ip is None and time.monotonic() < deadline:
            ip = lease_ip(mac)
            time.sleep(2)
        assert ip, f"{name} ({mac}) got no DHCP lease on network default within {BOOT_TIMEOUT}s; console:\n{console_tail()}"
        ssh = ["ssh", "-i", str(key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
               "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", f"hyperdock@{ip}"]
        proc = None
        while time.monotonic() < deadline:
            proc = run([*ssh, "python3", "--version"], timeout=30, check=False)
            if proc.returncode == 0:
                break
            time.sleep(3)
        assert proc is not None and proc.returncode == 0, \
            f"no SSH login to {ip} within {BOOT_TIMEOUT}s: {proc and proc.stderr}; console:\n{console_tail()}"
        assert proc.stdout.startswith("Python 3.")
        # Every cloud-init stage must succeed (a failing module leaves status: error).
        status = run([*ssh, "cloud-init", "status", "--wait"], timeout=BOOT_TIMEOUT, check=False)
        assert "status: done" in status.stdout, f"cloud-init: {status.stdout}{status.stderr}; console:\n{console_tail()}"
    finally:
        for step in ("destroy", "undefine"):
            try:
                run([*VIRSH, step, name], timeout=BOOT_TIMEOUT, check=False)
            except subprocess.TimeoutExpired:
                print(f"cleanup: virsh {step} {name} timed out; remove it by hand")
        overlay.unlink(missing_ok=True)
        seed.unlink(missing_ok=True)
