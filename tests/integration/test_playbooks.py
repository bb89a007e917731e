"""The shipped inventories and playbooks: they parse, and every playbook runs by path and by FQCN.

The lab runs for real in tests/lab; inventories/example describes hosts that do
not exist here, so it is checked as far as that allows: its graph and a
syntax check of every playbook against it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin"
PLAYBOOKS = sorted(p.stem for p in (ROOT / "playbooks").glob("*.yml"))
INVENTORIES = {
    "lab": {"hypervisors": {"lab-hv"}, "registries": {"lab-hv"}, "guests": {"lab-app", "lab-edge"},
            "docker_hosts": {"lab-app", "lab-edge"}},
    "example": {"hypervisors": {"kvm1.example.net", "kvm2.example.net", "xen1.example.net"},
                "kvm_hypervisors": {"kvm1.example.net", "kvm2.example.net"}, "xen_hypervisors": {"xen1.example.net"},
                "registries": {"kvm1.example.net"}, "guests": {"web1", "web2", "cache1", "db1", "build1"},
                "docker_hosts": {"web1", "web2", "cache1"}},
}


def ansible(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0")
    return subprocess.run([str(BIN / tool), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


def graph_groups(text: str) -> dict[str, set[str]]:
    """`ansible-inventory --graph` as group -> hosts directly or indirectly in it."""
    groups: dict[str, set[str]] = {}
    stack: list[tuple[int, str]] = []
    for line in text.splitlines():
        depth = (len(line) - len(line.lstrip(" |"))) // 3
        name = line.strip(" |-")
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if name.startswith("@"):
            groups.setdefault(name[1:].rstrip(":"), set())
            stack.append((depth, name[1:].rstrip(":")))
        elif name:
            for _depth, group in stack:
                groups[group].add(name)
    return groups


def test_playbooks_are_the_documented_set():
    assert PLAYBOOKS == ["docker", "guests", "hypervisors", "map", "services", "site", "teardown"]


@pytest.mark.parametrize("inventory", sorted(INVENTORIES))
def test_inventory_graph_has_the_playbooks_groups(inventory):
    proc = ansible("ansible-inventory", "-i", f"inventories/{inventory}", "--graph")
    assert proc.returncode == 0, proc.stderr
    assert "[WARNING]" not in proc.stderr, proc.stderr
    groups = graph_groups(proc.stdout)
    for group, hosts in INVENTORIES[inventory].items():
        assert groups.get(group) == hosts, f"{inventory}: group {group} is {groups.get(group)}, expected {hosts}"


@pytest.mark.parametrize("inventory", sorted(INVENTORIES))
@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_playbook_syntax_by_path_and_by_fqcn(inventory, playbook):
    for ref in (f"playbooks/{playbook}.yml", f"hyperdock.platform.{playbook}"):
        proc = ansible("ansible-playbook", "-i", f"inventories/{inventory}", "--syntax-check", ref)
        assert proc.returncode == 0, f"{ref} on inventories/{inventory}:\n{proc.stdout}\n{proc.stderr}"


def test_example_guests_resolve_their_hypervisors():
    """Every guest of the example names an existing hypervisor, and its variables template cleanly."""
    proc = ansible("ansible", "-i", "inventories/example", "guests", "-m", "ansible.builtin.debug",
                   "-a", "msg={{ guest_hypervisor in groups['hypervisors'] }}", "-c", "local",
                   "-e", "ansible_python_interpreter=/usr/bin/python3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count('"msg": true') + proc.stdout.count("msg: true") == len(INVENTORIES["example"]["guests"]), proc.stdout


def test_playbooks_and_roles_by_fqcn_from_the_installed_collection(tmp_path):
    """As a user has it: the built tarball installed with ansible-galaxy, not the working tree's link."""
    build = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--force", "--output-path",
                            str(tmp_path / "dist"), str(ROOT)], capture_output=True, text=True, timeout=300, check=False)
    assert build.returncode == 0, build.stderr
    (tarball,) = (tmp_path / "dist").glob("hyperdock-platform-*.tar.gz")
    installed = tmp_path / "collections"
    install = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "--no-deps", "--force", "-p",
                              str(installed), str(tarball)], capture_output=True, text=True, timeout=300, check=False)
    assert install.returncode == 0, install.stdout + install.stderr
    where = installed / "ansible_collections" / "hyperdock" / "platform"
    assert (where / "playbooks" / "site.yml").is_file() and not (where / "playbooks").is_symlink()
    # Only the installed copy is on the path, and nothing runs from the checkout.
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(installed), ANSIBLE_CONFIG="", ANSIBLE_ROLES_PATH=str(tmp_path))
    for playbook in PLAYBOOKS:
        proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(ROOT / "inventories" / "example"), "--syntax-check",
                               f"hyperdock.platform.{playbook}"], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=300, check=False)
        assert proc.returncode == 0, f"hyperdock.platform.{playbook}:\n{proc.stdout}\n{proc.stderr}"
    doc = subprocess.run([str(BIN / "ansible-doc"), "-t", "role", "hyperdock.platform.guest"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300, check=False)
    assert doc.returncode == 0 and str(where) in doc.stdout, doc.stdout[-2000:] + doc.stderr
