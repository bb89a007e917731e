"""What `molecule test -s docker_engine` checks inside the converged instance.

Real effects only: the daemon that runs, the configuration it reports, a
container it starts with limits, and who may reach its TLS endpoint.
"""

from __future__ import annotations

import json
import os

import pytest
import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts("all")

TLS = "/etc/docker/tls"
IMAGE = "hyperdock/busybox-local:latest"
LIMITED = "hyperdock-limited"
# What converge.yml asks for, merged over the role's hardened defaults.
EXPECTED = {
    "storage-driver": "vfs",
    "icc": False,
    "live-restore": True,
    "userland-proxy": True,  # converge.yml: /proc/sys is read-only in the instance
    "no-new-privileges": True,
    "log-driver": "json-file",
    "log-opts": {"max-size": "5m", "max-file": "3"},
    "default-ulimits": {"nofile": {"Name": "nofile", "Soft": 4096, "Hard": 8192}},
    # side_effect.yml added the second label with a reload.
    "labels": ["hyperdock.role=docker_engine", "hyperdock.reload=side-effect"],
    "tls": True,
    "tlsverify": True,
}


def run(host, command: str) -> str:
    result = host.run(command)
    assert result.rc == 0, f"{command!r} failed (rc={result.rc}): {result.stderr or result.stdout}"
    return result.stdout.strip()


@pytest.fixture(scope="module")
def daemon_json(host) -> dict:
    return json.loads(host.file("/etc/docker/daemon.json").content_string)


@pytest.fixture(scope="module")
def info(host) -> dict:
    return json.loads(run(host, "docker info --format '{{json .}}'"))


@pytest.fixture(scope="module")
def limited(host) -> int:
    """A container started inside with memory, pids and CPU limits; its host PID."""
    host.run(f"docker rm -f {LIMITED}")
    if host.run(f"docker image inspect {IMAGE}").rc != 0:
        run(host, f"tar -C / -c bin/busybox | docker import - {IMAGE}")
    run(host, f"docker run -d --name {LIMITED} --memory 64m --pids-limit 42 --cpus 0.5 {IMAGE} /bin/busybox sleep 600")
    yield int(run(host, f"docker inspect -f '{{{{.State.Pid}}}}' {LIMITED}"))
    host.run(f"docker rm -f {LIMITED}")


def test_dockerd_runs_and_is_enabled(host):
    service = host.service("docker")
    assert service.is_running
    assert service.is_enabled


def test_reloadable_change_reloaded_without_restart(host, info):
    """side_effect.yml changed only the labels: dockerd got SIGHUP and kept its PID."""
    before = host.file("/run/dockerd-pid-before-reload").content_string.strip()
    assert run(host, "systemctl show --property MainPID --value docker") == before
    assert "hyperdock.reload=side-effect" in info["Labels"]
    assert "Got signal to reload configuration" in run(host, "journalctl -u docker --no-pager -o cat")


def test_daemon_json_holds_defaults_and_overrides(daemon_json):
    for key, value in EXPECTED.items():
        assert daemon_json[key] == value, key
    assert daemon_json["hosts"] == ["fd://", "tcp://0.0.0.0:2376"]


def test_daemon_json_is_private_to_root(host):
    assert host.file("/etc/docker/daemon.json").user == "root"
    assert host.file(f"{TLS}/ca-key.pem").mode == 0o600
    assert host.file(f"{TLS}/server-key.pem").mode == 0o600


def test_effective_config_matches_daemon_json(info, daemon_json):
    assert info["Driver"] == daemon_json["storage-driver"]
    assert info["LoggingDriver"] == daemon_json["log-driver"]
    assert info["LiveRestoreEnabled"] is daemon_json["live-restore"]
    assert set(daemon_json["labels"]) <= set(info["Labels"])
    # dockerd reports an active user namespace in SecurityOptions; off by default.
    assert not any("userns" in opt for opt in info["SecurityOptions"])


def test_icc_disabled_on_default_bridge(host):
    options = json.loads(run(host, "docker network inspect bridge --format '{{json .Options}}'"))
    assert options["com.docker.network.bridge.enable_icc"] == "false"


def test_container_limits_reach_its_cgroup(host, limited):
    cgroups = {}
    for line in host.file(f"/proc/{limited}/cgroup").content_string.splitlines():
        _hierarchy, controllers, path = line.split(":", 2)
        cgroups.update(dict.fromkeys(controllers.split(",") if controllers else [""], path))
    memory = cgroups.get("memory")
    if memory is not None:  # cgroup v1
        assert int(host.file(f"/sys/fs/cgroup/memory{memory}/memory.limit_in_bytes").content_string) == 64 * 1024**2
        assert host.file(f"/sys/fs/cgroup/pids{cgroups['pids']}/pids.max").content_string.strip() == "42"
        assert host.file(f"/sys/fs/cgroup/cpu{cgroups['cpu']}/cpu.cfs_quota_us").content_string.strip() == "50000"
    else:  # cgroup v2
        path = f"/sys/fs/cgroup{cgroups['']}"
        assert int(host.file(f"{path}/memory.max").content_string) == 64 * 1024**2
        assert host.file(f"{path}/pids.max").content_string.strip() == "42"
        assert host.file(f"{path}/cpu.max").content_string.split()[0] == "50000"


def test_container_gets_daemon_defaults(host, limited):
    status = host.file(f"/proc/{limited}/status").content_string
    assert "NoNewPrivs:\t1" in status
    limits = host.file(f"/proc/{limited}/limits").content_string
    nofile = next(line for line in limits.splitlines() if line.startswith("Max open files")).split()
    assert nofile[3:5] == ["4096", "8192"]


def test_user_in_docker_group(host):
    assert "docker" in host.user("hyperdock-ops").groups


def test_no_plain_tcp_listener(host):
    assert not host.socket("tcp://0.0.0.0:2375").is_listening
    assert host.socket("tcp://0.0.0.0:2376").is_listening


def test_tls_refuses_client_without_certificate(host):
    result = host.run(f"curl -sS --max-time 10 --cacert {TLS}/ca.pem https://127.0.0.1:2376/version")
    assert result.rc != 0, result.stdout
    result = host.run(f"docker -H tcp://127.0.0.1:2376 --tlsverify --tlscacert {TLS}/ca.pem version --format '{{{{.Server.Version}}}}'")
    assert result.rc != 0, result.stdout


def test_tls_accepts_generated_client_certificate(host):
    out = run(host, f"curl -sS --max-time 10 --cacert {TLS}/ca.pem --cert {TLS}/client-cert.pem --key {TLS}/client-key.pem "
                    "https://127.0.0.1:2376/version")
    assert json.loads(out)["Version"]
    out = run(host, f"docker -H tcp://127.0.0.1:2376 --tlsverify --tlscacert {TLS}/ca.pem --tlscert {TLS}/client-cert.pem "
                    f"--tlskey {TLS}/client-key.pem info --format '{{{{.Driver}}}}'")
    assert out == "vfs"
