"""The Docker connection layer: TLS options, environment defaults, error translation."""

from __future__ import annotations

import pytest

from ansible_collections.hyperdock.platform.plugins.module_utils import _docker
from ansible_collections.hyperdock.platform.plugins.module_utils._docker import DockerError, translate


def params(**kw):
    base = {"tls_ca_cert": None, "tls_client_cert": None, "tls_client_key": None, "tls_hostname": None}
    base.update(kw)
    return base


def test_no_tls_by_default(monkeypatch):
    monkeypatch.delenv("DOCKER_CERT_PATH", raising=False)
    assert _docker._tls_config(params()) is None


def test_mutual_tls_from_files(tmp_path):
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("x")
    tls = _docker._tls_config(params(tls_ca_cert=str(tmp_path / "ca.pem"), tls_client_cert=str(tmp_path / "cert.pem"),
                                     tls_client_key=str(tmp_path / "key.pem"), tls_hostname="guest1"))
    assert tls.cert == (str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
    assert tls.verify is True and tls.ca_cert == str(tmp_path / "ca.pem")


def test_cert_path_environment_is_the_default(monkeypatch, tmp_path):
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("x")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(tmp_path))
    assert _docker._tls_config(params()).cert == (str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))


def test_tls_errors_name_the_option(tmp_path, monkeypatch):
    monkeypatch.delenv("DOCKER_CERT_PATH", raising=False)
    with pytest.raises(DockerError, match="tls_client_cert and tls_client_key must be given together"):
        _docker._tls_config(params(tls_client_cert=str(tmp_path / "c.pem")))
    with pytest.raises(DockerError, match=r"tls_ca_cert: '/nonexistent/ca\.pem' is not a readable file"):
        _docker._tls_config(params(tls_ca_cert="/nonexistent/ca.pem"))


def test_connection_options_take_environment_defaults():
    assert _docker.CONNECTION_ARGS["docker_host"]["fallback"][1] == ["DOCKER_HOST"]
    assert _docker.CONNECTION_ARGS["docker_host"]["default"] == "unix:///var/run/docker.sock"


def test_translate_keeps_the_engine_message():
    import docker.errors

    exc = docker.errors.APIError("500", explanation="Conflict. The container name is already in use")
    assert str(translate(exc, "service web: create")) == "service web: create: Conflict. The container name is already in use"
    assert str(translate(ValueError("boom"))) == "ValueError: boom"
