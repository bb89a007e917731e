"""The libvirt_guests inventory plugin through the real `ansible-inventory`, against qemu:///system.

Two small guests that are only defined (never started) carry labels in their metadata; a
`*.libvirt_guests.yml` configuration in a temporary directory reads them. Other guests may exist on the
host (other tests, other engineers): assertions look at this module's guests only.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_INVENTORY = str(Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin" / "ansible-inventory")
URI = "qemu:///system"
PREFIX = f"hdtest-inv-{uuid.uuid4().hex[:6]}"
WEB, DB = f"{PREFIX}-web", f"{PREFIX}-db"
LABELS = {WEB: {"role": "docker", "tier": "web"}, DB: {"role": "db", "team": "data ops"}}

libvirt = pytest.importorskip("libvirt")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def conn(libvirtd: str):
    c = libvirt.open(URI)
    yield c
    c.close()


@pytest.fixture(scope="module")
def guests(conn, request) -> dict[str, str]:
    """WEB and DB, defined (shut off) with labels; every guest named PREFIX* is undefined at teardown."""
    from ansible_collections.hyperdock.platform.plugins.module_utils._libvirt_domain import DomainSpec, render

    def remove() -> None:
        for dom in conn.listAllDomains(0):
            if dom.name().startswith(PREFIX):
                with contextlib.suppress(libvirt.libvirtError):
                    if dom.isActive():
                        dom.destroy()
                    dom.undefine()

    request.addfinalizer(remove)
    uuids = {}
    for name, labels in LABELS.items():
        spec = DomainSpec(name=name, domain_type="qemu", vcpus=1, max_vcpus=1, memory=64 * 1024 ** 2,
                          max_memory=64 * 1024 ** 2, labels=labels)
        uuids[name] = conn.defineXML(render(spec)).UUIDString()
    return uuids


def plain(value: Any) -> Any:
    """ansible-inventory's JSON with ansible-core 2.19's ``{"__ansible_unsafe": ...}`` wrappers removed."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def inventory(config: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_INVENTORY_UNPARSED_FAILED="true")
    proc = subprocess.run([ANSIBLE_INVENTORY, "-i", str(config), *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, check=False, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"ansible-inventory {' '.join(args)} failed (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def listed(config: Path, *args: str) -> dict[str, Any]:
    return plain(json.loads(inventory(config, "--list", *args).stdout))


def hosts_of(data: dict[str, Any], group: str) -> set[str]:
    return set(data.get(group, {}).get("hosts", []))


def graph_group(graph: str, group: str) -> set[str]:
    """The hosts right under ``@group:`` in ``ansible-inventory --graph`` output."""
    hosts: set[str] = set()
    inside = None
    for line in graph.splitlines():
        depth = len(line) - len(line.lstrip(" |"))
        name = line.strip(" |-")
        if inside is not None:
            if depth <= inside:
                break
            if not name.startswith("@"):
                hosts.add(name)
        elif name == f"@{group}:":
            inside = depth
    return hosts


def write_config(tmp_path: Path, name: str = "lab.libvirt_guests.yml", **options: Any) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(dict({"plugin": "hyperdock.platform.libvirt_guests"}, **options)))
    return path


CONFIG = {
    "uris": [{"uri": URI, "name": "lab-hv"}],
    "compose": {"memory_bytes": "libvirt_memory | hyperdock.platform.to_bytes"},
    "keyed_groups": [{"key": "libvirt_labels.tier | default('none')", "prefix": "tier"}],
}


def test_groups_and_host_variables(guests, tmp_path):
    data = listed(write_config(tmp_path, **CONFIG))
    assert {WEB, DB} <= hosts_of(data, "hypervisor_lab_hv")
    assert {WEB, DB} <= hosts_of(data, "state_shut_off")
    assert WEB in hosts_of(data, "label_role_docker") and WEB in hosts_of(data, "label_tier_web")
    assert DB in hosts_of(data, "label_role_db") and DB in hosts_of(data, "label_team_data_ops")
    assert WEB not in hosts_of(data, "label_role_db")
    assert WEB in hosts_of(data, "tier_web") and DB in hosts_of(data, "tier_none")
    for name in (WEB, DB):
        hostvars = data["_meta"]["hostvars"][name]
        assert hostvars == {
            "libvirt_uri": URI, "libvirt_name": name, "libvirt_uuid": guests[name], "libvirt_state": "shut_off",
            "libvirt_vcpus": 1, "libvirt_memory": "64M", "libvirt_labels": LABELS[name], "libvirt_hypervisor": "lab-hv",
            "memory_bytes": 64 * 1024 ** 2,
        }  # and no ansible_host: a guest that is off has no address


def test_graph_and_states(guests, tmp_path):
    graph = inventory(write_config(tmp_path, **CONFIG), "--graph").stdout
    assert graph_group(graph, "label_role_docker") >= {WEB}, graph
    assert graph_group(graph, "state_shut_off") >= {WEB, DB}, graph
    assert DB not in graph_group(graph, "label_role_docker")
    running_only = listed(write_config(tmp_path, "running.libvirt_guests.yml", states=["running"]))
    assert WEB not in running_only["_meta"]["hostvars"] and DB not in running_only["_meta"]["hostvars"]


def test_cache_is_served_until_flushed(guests, conn, tmp_path):
    cache_dir = tmp_path / "cache"
    config = write_config(tmp_path, **CONFIG, cache=True, cache_plugin="ansible.builtin.jsonfile",
                          cache_connection=str(cache_dir), cache_timeout=3600)
    first = listed(config)
    assert {WEB, DB} <= set(first["_meta"]["hostvars"])
    assert [p.name for p in cache_dir.iterdir()], "the jsonfile cache was not written"

    renamed = f"{PREFIX}-renamed"
    conn.lookupByName(WEB).rename(renamed, 0)
    conn.lookupByName(DB).undefine()

    cached = listed(config)  # served from the cache: libvirt is not asked
    assert {WEB, DB} <= set(cached["_meta"]["hostvars"]) and renamed not in cached["_meta"]["hostvars"]
    assert cached["_meta"]["hostvars"][WEB] == first["_meta"]["hostvars"][WEB]
    assert WEB in hosts_of(cached, "label_role_docker")

    flushed = listed(config, "--flush-cache")
    assert renamed in flushed["_meta"]["hostvars"] and WEB not in flushed["_meta"]["hostvars"]
    assert DB not in flushed["_meta"]["hostvars"]
    assert renamed in hosts_of(flushed, "label_role_docker")
    assert flushed["_meta"]["hostvars"][renamed]["libvirt_uuid"] == guests[WEB]

    after = listed(config)  # the flush wrote the new guests to the cache
    assert renamed in after["_meta"]["hostvars"] and WEB not in after["_meta"]["hostvars"]


def test_unreachable_hypervisor_fails_naming_the_uri(tmp_path):
    uri = "qemu+unix:///system?socket=/nonexistent/hdk-inventory.sock"
    proc = inventory(write_config(tmp_path, "bad.libvirt_guests.yml", uris=[uri]), "--list", check=False)
    assert proc.returncode != 0
    assert f"uri: '{uri}': cannot connect to libvirt:" in proc.stderr
    assert "/nonexistent/hdk-inventory.sock" in proc.stderr and "Traceback" not in proc.stderr
