"""The main job end to end: scripts/lab.sh (site.yml on inventories/lab) for real.

Real parts only: libvirtd and QEMU on this machine run two guests; dockerd in
each guest runs the lab's services, pulled from the registry on this machine.
Every check reads the effect where it lands: libvirt for the guests, the
guest's own files for dockerd, the cgroup files inside each container (inside
its guest) for the service limits.

The tests run in file order, each building on the one before; the last ones
tear the lab down, first keeping the disks, then removing them too.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin"
INVENTORY = ROOT / "inventories" / "lab"
OUTPUT = ROOT / "tests" / "output" / "lab"
KEY = Path(os.environ.get("HYPERDOCK_LAB_DIR", "/var/lib/hyperdock/lab")) / "id_ed25519"  # scripts/lab.sh
MAP_DIR = ROOT / "build" / "map"
URI = "qemu:///system"

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def host_vars(name: str) -> dict[str, Any]:
    data = yaml.safe_load((INVENTORY / "host_vars" / f"{name}.yml").read_text())
    group = yaml.safe_load((INVENTORY / "group_vars" / "guests.yml").read_text())
    return {**group, **data}


GUESTS = {name: host_vars(name) for name in ("lab-app", "lab-edge")}


def run(cmd: list[str], log: str, timeout: int = 3600) -> subprocess.CompletedProcess[str]:
    """Run a command from the checkout; keep its output in tests/output/lab/<log>.log."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0", NO_COLOR="1",
               PATH=f"{VENV_BIN}:{os.environ['PATH']}")
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    header = f"$ {shlex.join(cmd)}\n# rc={proc.returncode} in {time.monotonic() - started:.0f}s\n"
    (OUTPUT / f"{log}.log").write_text(f"{header}{proc.stdout}\n{proc.stderr}")
    with (OUTPUT / "timings.tsv").open("a") as timings:
        timings.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')}\t{log}\t{time.monotonic() - started:.0f}\trc={proc.returncode}\n")
    return proc


def playbook(name: str, log: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return run([str(VENV_BIN / "ansible-playbook"), "-i", str(INVENTORY), f"playbooks/{name}", *extra], log)


def must(proc: subprocess.CompletedProcess[str], what: str) -> str:
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-80:])
        pytest.fail(f"{what} failed (rc={proc.returncode}):\n{tail}", pytrace=False)
    return proc.stdout


def recap(output: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP of an ansible-playbook run: host -> {ok, changed, failed, ...}."""
    hosts = {}
    for line in output.split("PLAY RECAP", 1)[-1].splitlines():
        match = re.match(r"^(\S+)\s*:\s*(.*)$", line)
        if match and "=" in match.group(2):
            hosts[match.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(2))}
    assert hosts, f"no PLAY RECAP in:\n{output[-3000:]}"
    return hosts


def virsh(*args: str) -> str:
    proc = subprocess.run(["virsh", "-c", URI, *args], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, f"virsh {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def fields(text: str) -> dict[str, str]:
    """`virsh dominfo`/`schedinfo`-style 'Key: value' lines."""
    pairs = (line.partition(":") for line in text.splitlines())
    return {key.strip(): value.strip() for key, sep, value in pairs if sep}


def ssh(guest: str, command: str, check: bool = True) -> str:
    address = GUESTS[guest]["ansible_host"]
    proc = subprocess.run(["ssh", "-i", str(KEY), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                           "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "ConnectTimeout=20",
                           f"hyperdock@{address}", command],
                          capture_output=True, text=True, timeout=180, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"{guest}: {command!r} exited {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout.strip()


def docker_in(guest: str, *args: str, check: bool = True) -> str:
    return ssh(guest, "sudo docker " + shlex.join(args), check=check)


def web(path: str, data: bytes | None = None) -> str:
    url = f"http://{GUESTS['lab-app']['ansible_host']}:8080{path}"
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=30) as response:
        return response.read().decode()


def wait_healthy(guest: str, container: str, timeout: int = 300) -> None:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = docker_in(guest, "inspect", "--format", "{{.State.Health.Status}}", container, check=False)
        if status == "healthy":
            return
        time.sleep(3)
    raise AssertionError(f"{guest}: {container} is still {status!r} after {timeout}s")


@pytest.fixture(scope="module")
def lab(libvirtd: str, dockerd: str) -> str:
    """`scripts/lab.sh` once: site.yml on inventories/lab, then the printed map."""
    return must(run(["bash", "scripts/lab.sh"], "lab-first-run"), "scripts/lab.sh (site.yml on inventories/lab)")


# --------------------------------------------------------------------------
# The platform as site.yml left it
# --------------------------------------------------------------------------

def test_site_ends_without_failures_and_prints_the_map(lab):
    hosts = recap(lab)
    assert set(GUESTS) | {"lab-hv", "localhost"} <= set(hosts)
    assert all(h["failed"] == 0 and h["unreachable"] == 0 for h in hosts.values()), hosts
    # scripts/lab.sh prints the text tree and the page's path.
    printed = lab.split("PLAY RECAP")[-1]
    for name in ("lab-hv", *GUESTS):
        assert re.search(rf"^\W*{name}\s", printed, re.M), f"{name} missing from the printed map"
    for guest, service in SERVICES:  # the tree names services under their guest
        assert re.search(rf"^\W*{service}\s+healthy\s", printed, re.M), f"{service} ({guest}) missing or not healthy in the map"
    assert str(MAP_DIR / "map.html") in lab


@pytest.mark.parametrize("guest", sorted(GUESTS))
def test_guest_runs_with_its_vcpus_memory_and_limits(lab, guest):
    want = GUESTS[guest]
    info = fields(virsh("dominfo", guest))
    assert info["State"] == "running"
    assert int(info["CPU(s)"]) == want["guest_vcpus"]
    assert info["Used memory"] == f"{int(want['guest_memory'].rstrip('M')) * 1024} KiB"
    sched = fields(virsh("schedinfo", guest))
    limits = want["guest_limits"]
    assert int(sched["cpu_shares"]) == limits["cpu_shares"]
    if "cpu_quota" in limits:
        assert int(sched["vcpu_quota"]) == limits["cpu_quota"]
        assert int(sched["vcpu_period"]) == limits["cpu_period"]
    if "memory_soft_limit" in limits:
        memtune = fields(virsh("memtune", guest))
        assert int(memtune["soft_limit"]) == int(limits["memory_soft_limit"].rstrip("M")) * 1024
    if "blkio_weight" in limits:
        assert int(fields(virsh("blkiotune", guest))["weight"]) == limits["blkio_weight"]
    if "guest_disk_iotune" in want:
        iotune = fields(virsh("blkdeviotune", guest, "vda"))
        assert int(iotune["total_iops_sec"]) == want["guest_disk_iotune"]["total_iops_sec"]
    # The labels the inventory plugin groups by, in the domain's metadata.
    xml = virsh("dumpxml", guest)
    for key, value in want["guest_labels"].items():
        assert re.search(rf'<[\w:]*label name="{key}">{value}</', xml), f"label {key}={value} missing from {guest}'s metadata"


@pytest.mark.parametrize("guest", sorted(GUESTS))
def test_dockerd_runs_with_the_hardened_daemon_json(lab, guest):
    assert ssh(guest, "systemctl is-active docker") == "active"
    daemon = json.loads(ssh(guest, "sudo cat /etc/docker/daemon.json"))
    assert daemon["icc"] is False and daemon["no-new-privileges"] is True and daemon["live-restore"] is True
    assert daemon["userland-proxy"] is False and daemon["log-opts"]["max-size"] == "10m"
    assert daemon["insecure-registries"] == ["192.168.122.1:5000"]
    info = json.loads(docker_in(guest, "info", "--format", "{{json .}}"))
    assert info["LiveRestoreEnabled"] is True
    assert "192.168.122.1:5000" in json.dumps(info["RegistryConfig"])
    # No API port: the engine listens on its socket only.
    assert ":2375" not in ssh(guest, "sudo ss -ltn")


def _cgroup_limits(guest: str, container: str) -> dict[str, int | None]:
    """memory, cpu quota/period and pids as the kernel applies them, read inside the container."""
    script = ("if [ -f /sys/fs/cgroup/memory.max ]; then "
              "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max /sys/fs/cgroup/pids.max; else "
              "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; "
              "echo $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us); "
              "cat /sys/fs/cgroup/pids/pids.max; fi")
    memory, cpu, pids = docker_in(guest, "exec", container, "sh", "-c", script).splitlines()
    quota, period = cpu.split()
    return {"memory": int(memory), "cpu_quota": None if quota == "max" else int(quota), "cpu_period": int(period),
            "pids": int(pids)}


SERVICES = [(guest, name) for guest in GUESTS
            for name in yaml.safe_load((INVENTORY / "host_vars" / f"{guest}.yml").read_text())["docker_services_services"]]


@pytest.mark.parametrize("guest, service", SERVICES)
def test_service_is_healthy_with_its_limits_in_the_cgroup(lab, guest, service):
    spec = yaml.safe_load((INVENTORY / "host_vars" / f"{guest}.yml").read_text())["docker_services_services"][service]
    container = f"lab-{service}"
    assert docker_in(guest, "inspect", "--format", "{{.State.Health.Status}}", container) == "healthy"
    got = _cgroup_limits(guest, container)
    assert got["memory"] == int(spec["memory"].rstrip("M")) * 1024 * 1024
    assert got["cpu_quota"] == round(float(spec["cpus"]) * got["cpu_period"])
    assert got["pids"] == spec["pids_limit"]


def test_second_site_run_changes_nothing(lab):
    output = must(run(["bash", "scripts/lab.sh"], "lab-second-run"), "the second scripts/lab.sh")
    hosts = recap(output)
    assert {h: v["changed"] for h, v in hosts.items() if v["changed"]} == {}, hosts


# --------------------------------------------------------------------------
# Data, budgets and the map
# --------------------------------------------------------------------------

def test_database_data_survives_a_web_image_change_and_a_db_restart(lab):
    note = f"kept-{int(time.time())}"
    web("/notes", data=note.encode())
    assert note in web("/notes")
    db_before = docker_in("lab-app", "inspect", "--format", "{{.Id}}", "lab-db")

    must(playbook("services.yml", "web-version-2", "-e", "lab_web_version=2", "--limit", "lab-app"), "services.yml with web 2")
    image = docker_in("lab-app", "inspect", "--format", "{{.Config.Image}}", "lab-web")
    assert image.endswith("/hyperdock/lab-web:2")
    assert '<strong id="version">2</strong>' in web("/")
    assert docker_in("lab-app", "inspect", "--format", "{{.Id}}", "lab-db") == db_before, "the db must not be recreated"
    assert note in web("/notes")

    docker_in("lab-app", "restart", "lab-db")
    wait_healthy("lab-app", "lab-db")
    wait_healthy("lab-app", "lab-web")
    assert note in web("/notes")

    # Back to the inventory's version, so the lab matches its inventory again.
    must(playbook("services.yml", "web-version-1", "--limit", "lab-app"), "services.yml back to web 1")
    assert docker_in("lab-app", "inspect", "--format", "{{.Config.Image}}", "lab-web").endswith("/hyperdock/lab-web:1")
    assert note in web("/notes")


def test_guests_over_the_hypervisor_budget_are_refused_before_any_change(lab):
    before = {g: fields(virsh("dominfo", g))["Max memory"] for g in GUESTS}
    proc = playbook("guests.yml", "refused-guests", "-e", "guest_memory=64G")
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "guest budget of hypervisor" in output and "memory: the guests need 128G" in output, output[-3000:]
    assert {g: fields(virsh("dominfo", g))["Max memory"] for g in GUESTS} == before


def test_services_over_the_guest_budget_are_refused_before_any_change(lab):
    before = docker_in("lab-app", "ps", "-q", "--no-trunc")
    proc = playbook("services.yml", "refused-services", "--limit", "lab-app", "-e",
                    json.dumps({"docker_services_budget": {"memory": "256M"}}))
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "service budget of Docker host lab-app" in output and "budget: memory 256M is exceeded" in output, output[-3000:]
    assert docker_in("lab-app", "ps", "-q", "--no-trunc") == before


def test_map_lists_every_guest_and_container(lab, chromium):
    data = json.loads((MAP_DIR / "map.json").read_text())
    text = json.dumps(data)
    for name in ["lab-hv", *GUESTS, *(f"lab-{service}" for guest, service in SERVICES)]:
        assert name in text, f"{name} missing from map.json"
    # Each guest's memory bar is what its own kernel has in use (virtio balloon statistics), within its size.
    for guest in data["guests"]:
        memory = guest["usage"]["memory"]
        assert 32 * 1024 ** 2 < memory["used_bytes"] < memory["limit_bytes"], (guest["name"], memory)
        assert memory["limit_bytes"] == int(GUESTS[guest["name"]]["guest_memory"].rstrip("M")) * 1024 ** 2
    assert (MAP_DIR / "map.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
    from helpers.browser import decode_png, external_references

    html = (MAP_DIR / "map.html").read_text()
    assert external_references(html) == [], "the page must be self-contained"
    page = chromium.dump_dom(MAP_DIR / "map.html")
    for name in ["lab-hv", *GUESTS, *(f"lab-{service}" for guest, service in SERVICES)]:
        assert name in page, f"{name} missing from the rendered page"
    png = decode_png(chromium.screenshot(MAP_DIR / "map.html", OUTPUT / "map.png"))
    assert (png.width, png.height) == (1400, 1000)
    assert len(png.colours(step=4)) > 50, "the screenshot is (nearly) blank"


# --------------------------------------------------------------------------
# Teardown
# --------------------------------------------------------------------------

def _volumes() -> set[str]:
    lines = virsh("vol-list", "default").splitlines()[2:]  # after the header and its rule
    return {line.split()[0] for line in lines if line.strip()}


def test_teardown_keeps_the_disks_unless_asked(lab):
    disks = {f"{g}-root.qcow2" for g in GUESTS}
    assert disks <= _volumes()
    must(playbook("teardown.yml", "teardown"), "teardown.yml")
    assert not set(virsh("list", "--all", "--name").split()) & set(GUESTS)
    assert disks <= _volumes(), "teardown.yml removed disks it was not asked to remove"

    must(playbook("teardown.yml", "teardown-remove", "-e", "teardown_remove_disks=true"), "teardown.yml remove disks")
    assert not disks & _volumes()
