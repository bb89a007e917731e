"""Mutual TLS to a Docker host: tls_ca_cert, tls_client_cert, tls_client_key, tls_hostname.

The far end is a real second dockerd on this machine, listening only on
127.0.0.1 with ``--tlsverify`` and its own data root, exec root, containerd
and bridge, next to the system's engine, and without iptables rules.  Not
``--bridge none``: dockerd then deletes ``docker0``, which the system's
engine needs (measured: its next container fails to start).
Certificates come from openssl, made per test session.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
            "-keyout", "ca-key.pem", "-out", "ca.pem", cwd=d)
    for name, ext in (("server", "subjectAltName=DNS:dockerd.test\nextendedKeyUsage=serverAuth"),
                      ("client", "extendedKeyUsage=clientAuth")):
        (d / f"{name}.ext").write_text(ext + "\n")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", f"{name}-key.pem",
                "-out", f"{name}.csr", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
                "-days", "1", "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=d)
    return d


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def tls_engine(pki: Path, dockerd: str, scratch_dir: Path) -> Iterator[str]:
    """A second, real dockerd that answers only clients with a certificate from the test CA."""
    root = scratch_dir / "dockerd-tls"
    root.mkdir()
    host = f"tcp://127.0.0.1:{free_port()}"
    bridge = f"hdktls{os.getpid() % 100000}"  # at most 15 characters, as the kernel wants
    subprocess.run(["ip", "link", "del", bridge], capture_output=True, check=False)
    subprocess.run(["ip", "link", "add", "name", bridge, "type", "bridge"], check=True, capture_output=True)
    log = (root / "dockerd.log").open("w")
    proc = subprocess.Popen(
        ["dockerd", "--tlsverify", "--tlscacert", str(pki / "ca.pem"), "--tlscert", str(pki / "server.pem"),
         "--tlskey", str(pki / "server-key.pem"), "-H", host, "--data-root", str(root / "data"),
         "--exec-root", str(root / "exec"), "--pidfile", str(root / "dockerd.pid"),
         "--bridge", bridge, "--iptables=false", "--ip-masq=false"],
        stdout=log, stderr=subprocess.STDOUT)
    # --tls, not --tlsverify: the server's certificate names dockerd.test, not 127.0.0.1.
    client = ["docker", "-H", host, "--tls", "--tlscacert", str(pki / "ca.pem"), "--tlscert", str(pki / "client.pem"), "--tlskey", str(pki / "client-key.pem")]
    try:
        deadline = time.monotonic() + 60
        while subprocess.run([*client, "version"], capture_output=True, check=False).returncode != 0:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the TLS dockerd did not answer on {host}:\n{(root / 'dockerd.log').read_text()[-3000:]}",
                            pytrace=False)
            time.sleep(0.3)
        yield host
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        # dockerd unmounts its data root when it stops; a kill leaves the mount behind.
        subprocess.run(["umount", "-R", str(root / "data")], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True, check=False)


def tls_args(pki: Path, host: str, **extra: object) -> dict[str, object]:
    args = {"docker_host": host, "tls_ca_cert": str(pki / "ca.pem"), "tls_client_cert": str(pki / "client.pem"),
            "tls_client_key": str(pki / "client-key.pem"), "tls_hostname": "dockerd.test", "name": ["web"], "usage": False}
    args.update(extra)
    return args


def test_mutual_tls_with_hostname(run_task, pki, tls_engine):
    result = run_task("hyperdock.platform.docker_service_info", tls_args(pki, tls_engine))
    assert result["services"] == [] and result["missing"] == ["web"]
    # A real engine answered over mutual TLS: GET /info gave its version and (no) running containers.
    assert result["host"]["containers_running"] == 0 and result["host"]["server_version"], result["host"]


def test_certificate_name_is_checked(run_task, pki, tls_engine):
    result = run_task("hyperdock.platform.docker_service_info", tls_args(pki, tls_engine, tls_hostname=None), expect_failure=True)
    assert "docker_host" in result["msg"] and "not reachable" in result["msg"] and "Traceback" not in json.dumps(result)


def test_client_certificate_is_required(run_task, pki, tls_engine):
    args = tls_args(pki, tls_engine, tls_client_cert=None, tls_client_key=None)
    result = run_task("hyperdock.platform.docker_service_info", args, expect_failure=True)
    assert "not reachable" in result["msg"]


def test_the_system_engine_keeps_its_bridge(tls_engine):
    """The second engine must not take the system engine's default bridge away."""
    assert subprocess.run(["ip", "link", "show", "docker0"], capture_output=True, check=False).returncode == 0
