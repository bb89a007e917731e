# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place that talks to Docker.

Modules never import ``docker``: they take :data:`CONNECTION_ARGS` into their
argument_spec, call :func:`connect` and let :func:`translate` turn any SDK
exception into a :class:`DockerError` whose message is shown as is.
"""

from __future__ import annotations

import os
import traceback
from typing import Any

from ansible.module_utils.basic import env_fallback, missing_required_lib

try:
    import docker
    import docker.errors
    import docker.tls
    HAS_DOCKER = True
    DOCKER_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - depends on the controller's venv
    HAS_DOCKER = False
    DOCKER_IMPORT_ERROR = traceback.format_exc()

DEFAULT_HOST = "unix:///var/run/docker.sock"

CONNECTION_ARGS: dict[str, dict[str, Any]] = {
    "docker_host": {"type": "str", "default": DEFAULT_HOST, "fallback": (env_fallback, ["DOCKER_HOST"]), "aliases": ["docker_url"]},
    "tls_ca_cert": {"type": "path", "fallback": (env_fallback, ["DOCKER_TLS_CA_CERT"])},
    "tls_client_cert": {"type": "path", "fallback": (env_fallback, ["DOCKER_TLS_CLIENT_CERT"])},
    "tls_client_key": {"type": "path", "fallback": (env_fallback, ["DOCKER_TLS_CLIENT_KEY"])},
    "tls_hostname": {"type": "str", "fallback": (env_fallback, ["DOCKER_TLS_HOSTNAME"])},
    "timeout": {"type": "int", "default": 60, "fallback": (env_fallback, ["DOCKER_TIMEOUT"])},
}

# Workers for independent Docker API calls: enough to hide latency, few
# enough not to swamp a 2-core host's dockerd.
DEFAULT_PARALLEL = 8


class DockerError(Exception):
    """A failure to show the user as is (it already names what went wrong)."""


def _tls_config(params: dict[str, Any]) -> Any:
    cert_path = os.environ.get("DOCKER_CERT_PATH")
    ca = params.get("tls_ca_cert")
    cert = params.get("tls_client_cert")
    key = params.get("tls_client_key")
    if cert_path and not (ca or cert or key):
        ca, cert, key = (os.path.join(cert_path, name) for name in ("ca.pem", "cert.pem", "key.pem"))
    if not (ca or cert or key):
        return None
    if bool(cert) != bool(key):
        raise DockerError("tls_client_cert and tls_client_key must be given together "
                          f"(tls_client_cert: {cert!r}, tls_client_key: {key!r})")
    for option, path in (("tls_ca_cert", ca), ("tls_client_cert", cert), ("tls_client_key", key)):
        if path and not os.path.isfile(path):
            raise DockerError(f"{option}: {path!r} is not a readable file")
    # The daemon's certificate is verified whenever a CA is given.
    return docker.tls.TLSConfig(client_cert=(cert, key) if cert else None, ca_cert=ca, verify=bool(ca))


def _expect_hostname(client: Any, hostname: str) -> None:
    """Verify the daemon's certificate against ``hostname`` rather than the address dialled.

    Docker SDK 7 dropped ``assert_hostname``; its APIClient is a requests
    Session, so an adapter that passes it to urllib3 does the same.
    """
    import requests.adapters  # a dependency of the Docker SDK

    class HostnameAdapter(requests.adapters.HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["assert_hostname"] = hostname
            super().init_poolmanager(*args, **kwargs)

    client.api.mount("https://", HostnameAdapter())


def connect(module: Any) -> Any:
    """A ``docker.DockerClient`` for the module's connection options.

    Fails the module (no traceback) when the SDK is missing or the daemon does
    not answer.
    """
    if not HAS_DOCKER:
        module.fail_json(msg=missing_required_lib("docker (Docker SDK for Python)"), exception=DOCKER_IMPORT_ERROR)
    params = module.params
    host = params["docker_host"]
    try:
        tls = _tls_config(params)
        if tls is not None and host.startswith("tcp://"):
            host = "https://" + host[len("tcp://"):]
        # version="auto" asks the daemon for its API version: that call is the reachability check.
        # With TLS the session is set up first and the version asked afterwards.
        client = docker.DockerClient(base_url=host, tls=tls if tls is not None else False,
                                     timeout=params["timeout"], version="1.41" if tls is not None else "auto")
        if tls is not None:
            # requests lets REQUESTS_CA_BUNDLE override the session's CA, which would
            # verify the daemon against the system CAs instead of tls_ca_cert.
            client.api.trust_env = False
            if params.get("tls_hostname"):
                _expect_hostname(client, params["tls_hostname"])
            client.api._version = client.api._retrieve_server_version()
    except DockerError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # the SDK raises requests/urllib3/OSError subclasses here
        module.fail_json(msg=f"docker_host: {params['docker_host']!r} is not reachable: {exc}")
    return client


def translate(exc: BaseException, context: str = "") -> DockerError:
    """A DockerError for any SDK exception; ``context`` names the service and step."""
    prefix = f"{context}: " if context else ""
    if HAS_DOCKER and isinstance(exc, docker.errors.APIError):
        detail = exc.explanation or str(exc)
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        return DockerError(f"{prefix}{detail}")
    if isinstance(exc, DockerError):
        return DockerError(f"{prefix}{exc}")
    return DockerError(f"{prefix}{type(exc).__name__}: {exc}")


def is_not_found(exc: BaseException) -> bool:
    return HAS_DOCKER and isinstance(exc, docker.errors.NotFound)


def update_resources(client: Any, container_id: str, body: dict[str, Any]) -> None:
    """Apply live changes with one call to ``POST /containers/{id}/update``.

    The SDK's ``update_container`` lacks ``NanoCpus`` and ``PidsLimit``; when
    those are needed the same endpoint is called through the low-level client.
    """
    api = client.api
    if "NanoCpus" in body or "PidsLimit" in body:
        res = api._post_json(api._url("/containers/{0}/update", container_id), data=body)
        api._raise_for_status(res)
        return
    restart = body.get("RestartPolicy")
    api.update_container(
        container_id,
        blkio_weight=body.get("BlkioWeight"),
        cpu_period=body.get("CpuPeriod"),
        cpu_quota=body.get("CpuQuota"),
        cpu_shares=body.get("CpuShares"),
        cpuset_cpus=body.get("CpusetCpus"),
        cpuset_mems=body.get("CpusetMems"),
        mem_limit=body.get("Memory"),
        mem_reservation=body.get("MemoryReservation"),
        memswap_limit=body.get("MemorySwap"),
        restart_policy=restart,
    )
