"""Roles refuse bad variables before they touch the host.

Each case imports one role with bad variables into a play against localhost in
check mode and asserts that the run fails in argument validation (or the
role's own preflight checks) with a message naming the variable, the value and
what is accepted.  Add a role by appending cases to CASES.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any, NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = str(Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin" / "ansible-playbook")


class Case(NamedTuple):
    role: str
    variables: dict[str, Any]
    # Regular expressions that must all appear in the failed task's message.
    messages: tuple[str, ...]
    # The task that must fail: argument spec validation unless told otherwise.
    task: str = "Validating arguments against arg spec"


CASES = {
    "docker_engine-source-not-a-choice": Case(
        "docker_engine", {"docker_engine_source": "nope"},
        (r"docker_engine_source", r"one of: debian, docker", r"nope")),
    "docker_engine-tls-not-a-bool": Case(
        "docker_engine", {"docker_engine_tls": "maybe"},
        (r"docker_engine_tls", r"bool")),
    "docker_engine-port-not-a-number": Case(
        "docker_engine", {"docker_engine_tls_port": "two thousand"},
        (r"docker_engine_tls_port", r"int")),
    "docker_engine-daemon-json-not-a-dict": Case(
        "docker_engine", {"docker_engine_daemon_json": ["debug"]},
        (r"docker_engine_daemon_json", r"dict")),
    "docker_engine-rsa-bits-not-a-choice": Case(
        "docker_engine", {"docker_engine_tls_rsa_bits": 1024},
        (r"docker_engine_tls_rsa_bits", r"2048, 3072, 4096")),
    # Values inside daemon.json are checked by the role's preflight, before
    # anything is installed or written.
    "docker_engine-log-max-size-negative-number": Case(
        "docker_engine", {"docker_engine_daemon_json": {"log-opts": {"max-size": -1}}},
        (r"log-opts values must be strings", r'"max-size": ?-1'),
        task="Check the log options"),
    "docker_engine-unknown-daemon-key": Case(
        "docker_engine", {"docker_engine_daemon_json": {"live-restor": True}},
        (r"keys dockerd does not know: live-restor", r"docker_engine_daemon_extra_keys"),
        task="Check daemon.json keys"),
    "docker_engine-daemon-key-wrong-type": Case(
        "docker_engine", {"docker_engine_daemon_json": {"icc": "no"}},
        (r"daemon.json key icc must be a boolean", r'got "no"'),
        task="Check the JSON type"),
    "docker_engine-plain-tcp-2375": Case(
        "docker_engine", {"docker_engine_daemon_json": {"hosts": ["unix:///run/docker.sock", "tcp://0.0.0.0:2375"]}},
        (r"must not be port 2375", r"tcp://0.0.0.0:2375"),
        task="Check the log options, log level and listening sockets"),
    "hypervisor-type-not-a-choice": Case(
        "hypervisor", {"hypervisor_type": "vmware"},
        (r"hypervisor_type", r"one of: kvm, xen", r"vmware")),
    "hypervisor-pool-type-not-a-choice": Case(
        "hypervisor", {"hypervisor_storage_pools": [{"name": "p", "type": "nfs"}]},
        (r"type", r"one of: dir, logical", r"nfs")),
    # Sizes go through the collection's one parser (the to_bytes filter),
    # before any package is installed.
    "hypervisor-negative-reserved-memory": Case(
        "hypervisor", {"hypervisor_reserved_memory": "-1G"},
        (r"hypervisor_reserved_memory: '-1G' is not valid", r"512M or 2G"),
        task="Check the budget settings before changing anything"),
    "guest-hypervisor-missing": Case(
        "guest", {},
        (r"missing required arguments: guest_hypervisor",)),
    "guest-hypervisor-type-not-a-choice": Case(
        "guest", {"guest_hypervisor": "localhost", "guest_hypervisor_type": "vmware"},
        (r"guest_hypervisor_type", r"one of: auto, kvm, qemu, xen", r"vmware")),
    "guest-negative-memory": Case(
        "guest", {"guest_hypervisor": "localhost", "guest_memory": "-1G"},
        (r"guest_memory: '-1G' is not valid", r"512M or 2G"),
        task="Check the guest's sizes before changing anything"),
    "guest-hypervisor-not-in-inventory": Case(
        "guest", {"guest_hypervisor": "nowhere"},
        (r"guest_hypervisor: \"nowhere\" is not an inventory host",),
        task="Check the guest's settings"),
    "docker_services-state-not-a-choice": Case(
        "docker_services", {"docker_services_state": "gone"},
        (r"docker_services_state", r"one of: present, absent", r"gone")),
    "docker_services-require-limits-not-a-bool": Case(
        "docker_services", {"docker_services_require_limits": "maybe"},
        (r"docker_services_require_limits", r"bool")),
    "registry-service-manager-not-a-choice": Case(
        "registry", {"registry_service_manager": "runit"},
        (r"registry_service_manager", r"one of: auto, systemd, daemon", r"runit")),
    "registry-image-without-source": Case(
        "registry", {"registry_images": [{"name": "hyperdock/web", "tag": "1"}]},
        (r"missing required arguments: source",)),
    # Ports, repository names and tags are checked by the role's preflight,
    # before the package is installed.
    "registry-bad-port-name-and-tag": Case(
        "registry", {"registry_port": 70000, "registry_images": [{"source": "hyperdock/web:1", "name": "Web", "tag": "-1"}]},
        (r"registry_port must be between 1 and 65535, got 70000", r'name "Web"', r'tag "-1"'),
        task="Check the port and the images to push"),
}


def run_role(role: str, variables: dict[str, Any], workdir: Path) -> tuple[int, list[dict[str, Any]], str]:
    """Import hyperdock.platform.<role> with `variables` on localhost, in check mode."""
    play = [{
        "name": f"argument checks of {role}",
        "hosts": "localhost",
        "gather_facts": False,
        "tasks": [{"ansible.builtin.import_role": {"name": f"hyperdock.platform.{role}"}, "vars": variables}],
    }]
    path = workdir / "play.json"  # JSON is YAML: no quoting surprises
    path.write_text(json.dumps(play))
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
               ANSIBLE_PYTHON_INTERPRETER=str(Path(ANSIBLE_PLAYBOOK).parent / "python"))
    proc = subprocess.run([ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", "--check", str(path)],
                          capture_output=True, text=True, env=env, cwd=ROOT, check=False, timeout=300)
    try:
        tasks = json.loads(proc.stdout)["plays"][0]["tasks"]
    except (ValueError, KeyError, IndexError):
        tasks = []
    return proc.returncode, tasks, proc.stdout + proc.stderr


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_variables_fail_early_with_a_clear_message(case: Case, tmp_path: Path) -> None:
    rc, tasks, output = run_role(case.role, case.variables, tmp_path)
    assert rc == 2, f"expected ansible-playbook to fail with rc 2, got {rc}:\n{output}"
    failed = [(t["task"]["name"], t["hosts"]["localhost"]) for t in tasks if t["hosts"].get("localhost", {}).get("failed")]
    assert len(failed) == 1, f"expected exactly one failed task:\n{output}"
    name, result = failed[0]
    assert case.task in name, f"the failure came from {name!r}, not from {case.task!r}:\n{output}"
    # Nothing ran before the failure that could have changed the host.
    assert not any(t["hosts"].get("localhost", {}).get("changed") for t in tasks), output
    # A loop's messages are in its failed items.
    message = "\n".join([result.get("msg", "")] + [item.get("msg", "") for item in result.get("results", []) if item.get("failed")])
    for pattern in case.messages:
        assert re.search(pattern, message), f"{pattern!r} not in the message:\n{message}"
