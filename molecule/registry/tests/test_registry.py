"""What `molecule test -s registry` checks inside the converged instance:
the registry runs under systemd as its own user with exactly the rendered
configuration, answers its API on the configured port, stores what is
pushed to it in the configured directory, lists it in its catalog, lets it
be deleted, and the role published its endpoint."""

from __future__ import annotations

import hashlib
import json
import os
import shlex

import pytest
import testinfra.utils.ansible_runner
import yaml

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts("all")

# What converge.yml asks of the role.
PORT = 5050
STORAGE = "/srv/registry"
URL = f"http://127.0.0.1:{PORT}"
CONFIG = "/etc/docker/registry/config.yml"
REPO = "molecule/probe"
TAG = "v1"
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


def run(host, command: str) -> str:
    result = host.run(command)
    assert result.rc == 0, f"{command!r} failed (rc={result.rc}): {result.stderr or result.stdout}"
    return result.stdout.strip()


def http(host, method: str, path: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    """One request to the registry from inside the instance: status, headers (lower-case names), body."""
    # -I for HEAD (curl would wait for a body otherwise); no `Expect: 100-continue` block before the answer.
    args = ["curl", "-sS", "--max-time", "10", "-D", "-", "-H", "Expect:"] + (["-I"] if method == "HEAD" else ["-X", method])
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    if data is not None:
        args += ["--data-binary", "@-"]
    url = path if path.startswith("http") else URL + path
    command = shlex.join([*args, url])
    if data is not None:
        command = f"printf %s {shlex.quote(data.decode())} | {command}"
    head, _sep, body = run(host, command).replace("\r\n", "\n").partition("\n\n")
    lines = head.splitlines()
    status = int(lines[0].split()[1])
    fields = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return status, {name.lower(): value for name, value in fields.items()}, body


def upload_blob(host, content: bytes) -> str:
    """Monolithic blob upload (POST, then PUT with the digest); returns the digest."""
    digest = "sha256:" + hashlib.sha256(content).hexdigest()
    status, headers, body = http(host, "POST", f"/v2/{REPO}/blobs/uploads/")
    assert status == 202, body
    location = headers["location"]
    status, _headers, body = http(host, "PUT", f"{location}{'&' if '?' in location else '?'}digest={digest}", content,
                                  {"Content-Type": "application/octet-stream"})
    assert status == 201, body
    return digest


@pytest.fixture(scope="module")
def pushed(host) -> str:
    """An image (a config blob, one layer and a schema 2 manifest) pushed through the API; its manifest digest."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    layer = b"hyperdock registry scenario layer"
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": MANIFEST_V2,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config),
                   "digest": upload_blob(host, config)},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": len(layer),
                    "digest": upload_blob(host, layer)}],
    }).encode()
    status, headers, body = http(host, "PUT", f"/v2/{REPO}/manifests/{TAG}", manifest, {"Content-Type": MANIFEST_V2})
    assert status == 201, body
    return headers["docker-content-digest"]


def test_registry_runs_under_systemd_as_its_user(host):
    service = host.service("docker-registry")
    assert service.is_running
    assert service.is_enabled
    pid = run(host, "systemctl show --property MainPID --value docker-registry")
    uid = next(line.split()[1] for line in host.file(f"/proc/{pid}/status").content_string.splitlines() if line.startswith("Uid:"))
    assert uid == run(host, "id -u docker-registry")
    assert host.file(f"/proc/{pid}/cmdline").content_string.split("\0")[:3] == ["/usr/bin/docker-registry", "serve", CONFIG]


def test_listens_on_the_configured_port_only(host):
    assert host.socket(f"tcp://0.0.0.0:{PORT}").is_listening
    # The package's default port is not used.
    assert not host.socket("tcp://0.0.0.0:5000").is_listening


def test_api_answers_with_the_configured_headers(host):
    status, headers, body = http(host, "GET", "/v2/")
    assert status == 200, body
    assert headers["docker-distribution-api-version"] == "registry/2.0"
    assert headers["x-content-type-options"] == "nosniff"
    # registry_config_extra was merged into http.headers, next to the role's own header.
    assert headers["x-hyperdock-scenario"] == "registry"


def test_config_file_holds_the_role_settings_and_the_extra(host):
    config_file = host.file(CONFIG)
    assert config_file.user == "root"
    assert config_file.mode == 0o644
    config = yaml.safe_load(config_file.content_string)
    assert str(config["version"]) == "0.1"
    assert config["http"]["addr"] == f"0.0.0.0:{PORT}"
    assert config["http"]["headers"] == {"X-Content-Type-Options": ["nosniff"], "X-Hyperdock-Scenario": ["registry"]}
    assert config["storage"]["filesystem"] == {"rootdirectory": STORAGE}
    assert config["storage"]["delete"] == {"enabled": True}
    assert config["health"]["storagedriver"]["enabled"] is True
    assert config["log"]["level"] == "debug"
    # The package's htpasswd section is gone: plain HTTP without authentication, as documented.
    assert "auth" not in config


def test_log_level_reaches_the_registry(host):
    assert "level=debug" in run(host, "journalctl -u docker-registry --no-pager -o cat")


def test_catalog_lists_what_was_pushed(host, pushed):
    status, _headers, body = http(host, "GET", "/v2/_catalog")
    assert status == 200, body
    assert REPO in json.loads(body)["repositories"]
    status, _headers, body = http(host, "GET", f"/v2/{REPO}/tags/list")
    assert json.loads(body) == {"name": REPO, "tags": [TAG]}
    status, headers, _body = http(host, "HEAD", f"/v2/{REPO}/manifests/{TAG}", headers={"Accept": MANIFEST_V2})
    assert status == 200
    assert headers["docker-content-digest"] == pushed


def test_pushed_data_lands_in_the_storage_directory(host, pushed):
    storage = host.file(STORAGE)
    assert storage.is_directory
    assert storage.user == "docker-registry"
    link = host.file(f"{STORAGE}/docker/registry/v2/repositories/{REPO}/_manifests/tags/{TAG}/current/link")
    assert link.content_string.strip() == pushed


def test_delete_is_enabled(host, pushed):
    status, _headers, body = http(host, "DELETE", f"/v2/{REPO}/manifests/{pushed}")
    assert status == 202, body
    status, _headers, _body = http(host, "HEAD", f"/v2/{REPO}/manifests/{TAG}", headers={"Accept": MANIFEST_V2})
    assert status == 404


def test_endpoint_fact_is_the_default_address_and_port(host):
    route = run(host, "ip -o -4 route get 192.0.2.1").split()
    address = route[route.index("src") + 1]
    assert host.file("/root/registry_endpoint").content_string.strip() == f"{address}:{PORT}"
