"""Mutual TLS to a Docker host: tls_ca_cert, tls_client_cert, tls_client_key, tls_hostname.

A second dockerd with TLS is heavy to run here, so the far end is a tiny
HTTPS server that speaks the few Engine API calls docker_service_info makes
and, like `dockerd --tlsverify`, refuses clients without a certificate from
its CA.  Certificates come from openssl, made per test session.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


class FakeEngine(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path.endswith("/version"):
            self.reply(200, {"ApiVersion": "1.41", "Version": "20.10-fake", "MinAPIVersion": "1.12"})
        elif path.endswith("/containers/json"):
            self.reply(200, [])
        else:
            self.reply(404, {"message": f"No such container: {path.split('/')[-2]}"})

    def reply(self, code: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def tls_engine(pki: Path) -> Iterator[str]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki / "server.pem", pki / "server-key.pem")
    context.load_verify_locations(pki / "ca.pem")
    context.verify_mode = ssl.CERT_REQUIRED  # mutual TLS, as dockerd --tlsverify
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeEngine)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def tls_args(pki: Path, host: str, **extra: object) -> dict[str, object]:
    args = {"docker_host": host, "tls_ca_cert": str(pki / "ca.pem"), "tls_client_cert": str(pki / "client.pem"),
            "tls_client_key": str(pki / "client-key.pem"), "tls_hostname": "dockerd.test", "name": ["web"], "usage": False}
    args.update(extra)
    return args


def test_mutual_tls_with_hostname(run_task, pki, tls_engine):
    result = run_task("hyperdock.platform.docker_service_info", tls_args(pki, tls_engine))
    assert result["services"] == [] and result["missing"] == ["web"]


def test_certificate_name_is_checked(run_task, pki, tls_engine):
    result = run_task("hyperdock.platform.docker_service_info", tls_args(pki, tls_engine, tls_hostname=None), expect_failure=True)
    assert "docker_host" in result["msg"] and "not reachable" in result["msg"] and "Traceback" not in json.dumps(result)


def test_client_certificate_is_required(run_task, pki, tls_engine):
    args = tls_args(pki, tls_engine, tls_client_cert=None, tls_client_key=None)
    result = run_task("hyperdock.platform.docker_service_info", args, expect_failure=True)
    assert "not reachable" in result["msg"]
