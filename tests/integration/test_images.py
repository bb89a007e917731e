"""The base images made by scripts/images/build.sh, checked for real effects.

A missing image fails (never skips) with the command that builds it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

BUSYBOX = "hyperdock/busybox:latest"
MOLECULE = os.environ.get("MOLECULE_IMAGE") or "hyperdock/debian12-systemd:latest"
GUEST = Path(os.environ.get("HYPERDOCK_CACHE", "/var/cache/hyperdock")) / "guest" / "current"
LAB_BASE = "hyperdock/lab-base:latest"
LAB_DB = "hyperdock/lab-db:1"
LAB_WEB = {"1": "hyperdock/lab-web:1", "2": "hyperdock/lab-web:2"}
OCI = "org.opencontainers.image."
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


def image_info(image: str) -> dict[str, Any]:
    need_docker_image(image)
    info: dict[str, Any] = json.loads(run(["docker", "image", "inspect", image]).stdout)[0]
    return info


def test_lab_base_is_one_layer_without_systemd(dockerd: str) -> None:
    info = image_info(LAB_BASE)
    assert len(info["RootFS"]["Layers"]) == 1
    assert info["Config"]["Labels"][OCI + "title"] == "hyperdock/lab-base"
    # Only a booted system needs these; python3 stays for lab-web.
    script = "! dpkg -s systemd sudo dbus >/dev/null 2>&1 && python3 --version && test -x /usr/sbin/policy-rc.d"
    assert run(["docker", "run", "--rm", LAB_BASE, "sh", "-c", script]).stdout.startswith("Python 3.")


@pytest.mark.parametrize("image,title,version,port", [
    (LAB_DB, "hyperdock/lab-db", "1", "3306/tcp"),
    (LAB_WEB["1"], "hyperdock/lab-web", "1", "8080/tcp"),
    (LAB_WEB["2"], "hyperdock/lab-web", "2", "8080/tcp"),
])
def test_lab_service_image_labels_port_and_healthcheck(dockerd: str, image: str, title: str, version: str, port: str) -> None:
    info = image_info(image)
    config = info["Config"]
    labels = config["Labels"]
    assert labels[OCI + "title"] == title
    assert labels[OCI + "version"] == version
    # The recipe key is the label and the tag build.sh reuses or rebuilds by.
    key = labels[OCI + "revision"]
    assert re.fullmatch(r"[0-9a-f]{12}", key), labels
    assert f"{title}:{version}-{key}" in info["RepoTags"]
    assert labels[OCI + "base.name"] in image_info(LAB_BASE)["RepoTags"]
    assert list(config["ExposedPorts"]) == [port]
    assert config["Healthcheck"]["Test"] == ["CMD", "/usr/local/bin/healthcheck"]
    run(["docker", "run", "--rm", "--entrypoint", "test", image, "-x", "/usr/local/bin/healthcheck"])


def test_lab_db_image_runs_mariadb_on_a_volume(dockerd: str) -> None:
    config = image_info(LAB_DB)["Config"]
    assert list(config["Volumes"]) == ["/var/lib/mysql"]
    assert config["Entrypoint"] == ["/usr/local/bin/lab-db-entrypoint"]
    # An empty datadir in the image: a new volume starts empty, so the first start creates the database and user.
    out = run(["docker", "run", "--rm", "--entrypoint", "sh", LAB_DB, "-c",
               "ls -A /var/lib/mysql | wc -l; stat -c %U /var/lib/mysql; mariadbd --version"]).stdout.split("\n")
    assert out[:2] == ["0", "mysql"]
    assert "MariaDB" in out[2]


def test_lab_web_image_env_and_user(dockerd: str) -> None:
    for version, image in LAB_WEB.items():
        config = image_info(image)["Config"]
        env = dict(item.split("=", 1) for item in config["Env"])
        assert env["WEB_VERSION"] == version
        assert {key: env[key] for key in ("DB_HOST", "DB_PORT", "DB_NAME", "DB_USER")} == \
            {"DB_HOST": "db", "DB_PORT": "3306", "DB_NAME": "lab", "DB_USER": "lab"}
        assert "DB_PASSWORD" not in env  # a secret belongs to the container, never to the image
        assert config["User"] == "lab-web"
        assert config["Cmd"] == ["python3", "/usr/local/lib/lab-web/app.py"]
    out = run(["docker", "run", "--rm", LAB_WEB["2"], "sh", "-c",
               "cat /usr/local/lib/lab-web/VERSION; python3 -c 'import pymysql; print(pymysql.__name__)'"]).stdout
    assert out.split() == ["2", "pymysql"]


def test_lab_service_images_share_their_layers(dockerd: str) -> None:
    base = image_info(LAB_BASE)["RootFS"]["Layers"]
    db = image_info(LAB_DB)["RootFS"]["Layers"]
    web1, web2 = (image_info(image)["RootFS"]["Layers"] for image in LAB_WEB.values())
    # A guest pulls the base layer once for both services...
    assert db[0] == web1[0] == web2[0] == base[0]
    # ...and moving web from 1 to 2 pulls only the last layer, a few bytes.
    assert web1[:-1] == web2[:-1]
    assert web1[-1] != web2[-1]
    sizes = [int(size) for size in
             run(["docker", "history", "--human=false", "--format", "{{.Size}}", LAB_WEB["2"]]).stdout.split()]
    assert next(size for size in sizes if size > 0) < 1024


def http(url: str, data: bytes | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    # The container is reached directly on its network: no proxy from the environment.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_healthy(container: str, timeout: float = 180) -> None:
    state = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = run(["docker", "inspect", "-f", "{{.State.Health.Status}}", container]).stdout.strip()
        if state == "healthy":
            return
        time.sleep(1)
    logs = run(["docker", "logs", "--tail", "30", container], check=False)
    raise AssertionError(f"{container} is {state!r} after {timeout}s:\n{logs.stdout}{logs.stderr}")


def test_lab_services_keep_notes_across_web_upgrade_and_db_restart(dockerd: str) -> None:
    for image in (LAB_DB, *LAB_WEB.values()):
        need_docker_image(image)
    name = f"hyperdock-imgtest-{secrets.token_hex(4)}"
    password = "pa'ss\\word"  # quoting in the entrypoint's SQL must hold
    # The image's healthcheck commands, checked every second instead of every 10 s.
    fast_health = ["--health-interval", "1s", "--health-start-period", "60s"]

    def start_db() -> None:
        run(["docker", "run", "-d", "--name", f"{name}-db", "--network", name, "--network-alias", "db",
             "--memory", "384m", "-v", f"{name}:/var/lib/mysql", *fast_health,
             "-e", "MARIADB_DATABASE=lab", "-e", "MARIADB_USER=lab", "-e", f"MARIADB_PASSWORD={password}", LAB_DB])

    def start_web(version: str) -> str:
        run(["docker", "run", "-d", "--name", f"{name}-web", "--network", name, "--memory", "128m", *fast_health,
             "-e", f"DB_PASSWORD={password}", LAB_WEB[version]])
        wait_healthy(f"{name}-web")
        ip = run(["docker", "inspect", "-f", f'{{{{(index .NetworkSettings.Networks "{name}").IPAddress}}}}',
                  f"{name}-web"]).stdout.strip()
        return f"http://{ip}:8080"

    run(["docker", "network", "create", name])
    run(["docker", "volume", "create", name])
    try:
        start_db()
        wait_healthy(f"{name}-db")
        url = start_web("1")
        status, body = http(f"{url}/notes", b"written by web 1")
        assert status == 201, body
        status, page = http(f"{url}/")
        assert status == 200 and re.search(r'id="version">1<', page) and re.search(r'id="visits">1<', page), page

        # The new version replaces the container; the data is in the database.
        run(["docker", "rm", "-f", f"{name}-web"])
        url = start_web("2")
        assert re.search(r'id="version">2<', http(f"{url}/")[1])
        assert http(f"{url}/visits") == (200, "2\n")

        # A restarted database keeps its volume, and the first start's set-up does not run again.
        run(["docker", "restart", f"{name}-db"])
        wait_healthy(f"{name}-db")
        wait_healthy(f"{name}-web")
        status, body = http(f"{url}/notes")
        assert status == 200, body
        assert [note["body"] for note in json.loads(body)] == ["written by web 1"]
        logs = run(["docker", "logs", f"{name}-db"])
        assert (logs.stdout + logs.stderr).count("first start: initialising") == 1
    finally:
        run(["docker", "rm", "-f", f"{name}-web", f"{name}-db"], check=False)
        run(["docker", "volume", "rm", name], check=False)
        run(["docker", "network", "rm", name], check=False)


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


@pytest.fixture(scope="module")
def guest_raw(guest_dir: Path, scratch_dir: Path) -> Iterator[Path]:
    """The guest's ext4 as a raw file, for debugfs to read without booting (or mounting) it."""
    raw = scratch_dir / "rootfs.raw"
    run(["qemu-img", "convert", "-O", "raw", str(guest_dir / "rootfs.qcow2"), str(raw)], timeout=300)
    try:
        yield raw
    finally:
        raw.unlink(missing_ok=True)


def debugfs(image: Path, request: str) -> str:
    # debugfs opens the file read-only and exits 0 even when a path is missing: callers check the output.
    return run(["debugfs", "-R", request, str(image)]).stdout


def dpkg_status(image: Path) -> dict[str, str]:
    """Package name to dpkg status, from the image's /var/lib/dpkg/status."""
    status = {}
    for stanza in debugfs(image, "cat /var/lib/dpkg/status").split("\n\n"):
        fields = dict(re.findall(r"^(Package|Status): (.*)$", stanza, re.MULTILINE))
        if "Package" in fields:
            status[fields["Package"]] = fields.get("Status", "")
    return status


def test_guest_image_has_docker_installed_and_enabled(guest_dir: Path, guest_raw: Path) -> None:
    # Baked in, so the docker_engine role never runs apt in a guest under TCG.
    status = dpkg_status(guest_raw)
    for package in ("docker.io", "containerd", "runc", "iptables", "apparmor", "ca-certificates"):
        assert status.get(package) == "install ok installed", f"{package}: {status.get(package)!r}"
    listed = dict(line.split(" ", 1) for line in (guest_dir / "packages.txt").read_text().splitlines())
    assert "docker.io" in listed and "containerd" in listed
    # Enabled as Debian's postinst does it; the build never started it (no pid or socket left behind).
    for link, target in (("multi-user.target.wants/docker.service", "/lib/systemd/system/docker.service"),
                         ("sockets.target.wants/docker.socket", "/lib/systemd/system/docker.socket"),
                         ("multi-user.target.wants/containerd.service", "/lib/systemd/system/containerd.service"),
                         ("sysinit.target.wants/apparmor.service", "/lib/systemd/system/apparmor.service")):
        out = debugfs(guest_raw, f"stat /etc/systemd/system/{link}")
        assert f'Fast link dest: "{target}"' in out, f"{link} is not a symlink to {target}:\n{out}"
    assert "docker:" in debugfs(guest_raw, "cat /etc/group")
    # dockerd makes its data root when it first starts: never in the build chroot.
    assert "File not found" in run(["debugfs", "-R", "stat /var/lib/docker", str(guest_raw)]).stderr


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
        # The baked-in engine is enabled at boot and runs a container on the default bridge (iptables NAT,
        # AppArmor's docker-default profile, containerd, runc). No registry: the image is the guest's own
        # echo and the libraries it links, imported.
        script = (
            "set -e; systemctl is-enabled docker.service; d=$(mktemp -d); "
            "for f in /usr/bin/echo $(ldd /usr/bin/echo | grep -o '/[^ ]*'); do cp --parents \"$f\" \"$d\"; done; "
            "until sudo docker info >/dev/null 2>&1; do sleep 2; done; "
            "sudo tar -C \"$d\" -c . | sudo docker import - hyperdock-imgtest/echo >/dev/null; "
            "sudo docker run --rm hyperdock-imgtest/echo /usr/bin/echo hello-from-a-container; "
            "systemctl is-active docker.service"
        )
        docker = run([*ssh, script], timeout=BOOT_TIMEOUT, check=False)
        assert docker.stdout.split() == ["enabled", "hello-from-a-container", "active"], \
            f"docker in the guest: {docker.stdout}{docker.stderr}"
    finally:
        for step in ("destroy", "undefine"):
            try:
                run([*VIRSH, step, name], timeout=BOOT_TIMEOUT, check=False)
            except subprocess.TimeoutExpired:
                print(f"cleanup: virsh {step} {name} timed out; remove it by hand")
        overlay.unlink(missing_ok=True)
        seed.unlink(missing_ok=True)
