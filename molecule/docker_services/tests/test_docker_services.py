"""What `molecule test -s docker_services` checks inside the instance: the
two-service stack runs inside Docker-in-Docker with its declared limits, seen
in the containers' own cgroups, and the side effect's limit change was applied
in place: same container, not restarted."""

from __future__ import annotations

import os

import pytest
import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts("all")

MIB = 1024 * 1024


def run(host, command: str) -> str:
    result = host.run(command)
    assert result.rc == 0, f"{command!r} failed (rc={result.rc}): {result.stderr or result.stdout}"
    return result.stdout.strip()


def cgroup(host, container: str, path: str) -> str:
    return run(host, f"docker exec {container} /bin/busybox cat /sys/fs/cgroup/{path}")


@pytest.mark.parametrize(("container", "memory", "quota", "pids"), [
    ("stack-db", 96 * MIB, 50000, 50),
    # web's memory is the side effect's value, 80M (converge set 64M).
    ("stack-web", 80 * MIB, 25000, 20),
])
def test_services_run_with_their_limits(host, container, memory, quota, pids):
    assert run(host, f"docker inspect --format '{{{{.State.Running}}}}' {container}") == "true"
    assert int(cgroup(host, container, "memory/memory.limit_in_bytes")) == memory
    assert int(cgroup(host, container, "cpu/cpu.cfs_quota_us")) == quota
    assert int(cgroup(host, container, "pids/pids.max")) == pids


def test_containers_carry_the_project_label(host):
    names = run(host, "docker ps -a --filter label=io.hyperdock.project=stack --format '{{.Names}}'").split()
    assert sorted(names) == ["stack-db", "stack-web"]


def test_db_is_healthy_and_keeps_its_data_in_the_named_volume(host):
    assert run(host, "docker inspect --format '{{.State.Health.Status}}' stack-db") == "healthy"
    assert run(host, "docker exec stack-db /bin/busybox cat /data/state") == "ready"
    mounts = run(host, "docker inspect --format '{{range .Mounts}}{{.Type}}:{{.Name}} {{end}}' stack-db")
    assert "volume:db-data" in mounts


def test_web_answers_on_its_published_port(host):
    run(host, "docker exec stack-web /bin/busybox sh -c 'echo hello > /www/index.html'")
    assert run(host, "/bin/busybox wget -q -O - http://127.0.0.1:18080/index.html") == "hello"


def test_limit_change_kept_the_container_and_did_not_restart_it(host):
    before_id, before_started = host.file("/root/web-before-side-effect").content_string.split()
    after = run(host, "docker inspect --format '{{.Id}} {{.State.StartedAt}}' stack-web").split()
    assert after == [before_id, before_started]
