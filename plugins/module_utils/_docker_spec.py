# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Service specs: what a user declares for one container, normalised.

A spec is a plain dict keyed by the module's option names, with every value
in the module's vocabulary and in one canonical spelling (``512M``, ``1.5``,
``0-2``, sorted lists), so two specs compare equal exactly when they mean the
same container.  Three sources give specs:

* :func:`normalize_service` validates a user's options (``docker_service``, or
  one entry of ``docker_services``' ``services``);
* :func:`services_from_compose` maps a Docker Compose file's supported subset
  onto the same options first;
* :func:`spec_from_inspect` reads a container back, taking the options that
  change only by recreate from the spec label written at creation, and the
  live options from ``HostConfig``, where daemon defaults read as "not set".

Nothing here talks to Docker: everything is a pure function of its inputs.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ansible_collections.hyperdock.platform.plugins.module_utils._units import (
    SIZE_HINT,
    LimitError,
    cpus_to_nano,
    format_cpus,
    format_cpuset,
    format_size,
    parse_cpus,
    parse_cpuset,
    parse_int,
    parse_size,
)

LABEL_PROJECT = "io.hyperdock.project"
LABEL_SERVICE = "io.hyperdock.service"
LABEL_HASH = "io.hyperdock.config-hash"
LABEL_SPEC = "io.hyperdock.spec"
LABEL_PREFIX = "io.hyperdock."

# Options the engine changes on a running container (POST /containers/{id}/update).
LIVE_OPTIONS = (
    "memory", "memory_reservation", "memory_swap", "cpus", "cpu_shares", "cpu_period", "cpu_quota",
    "cpuset_cpus", "cpuset_mems", "pids_limit", "blkio_weight", "restart_policy",
)
# Options that change only by recreating the container; their hash is a label.
RECREATE_OPTIONS = (
    "image", "command", "entrypoint", "env", "labels", "user", "working_dir", "ports", "mounts",
    "networks", "healthcheck", "read_only", "cap_add", "cap_drop", "security_opt", "init", "shm_size",
    "device_read_bps", "device_write_bps", "device_read_iops", "device_write_iops", "ulimits", "oom_score_adj",
)
SPEC_OPTIONS = RECREATE_OPTIONS + LIVE_OPTIONS

STATES = ("present", "started", "stopped", "absent")
RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")
MIN_MEMORY = 6 * 1024 * 1024  # dockerd refuses less

# The options of one service, as an Ansible argument_spec (docker_service's
# own options, and the keys each `services` entry of docker_services takes).
SERVICE_ARGS: dict[str, dict[str, Any]] = {
    "state": {"type": "str", "default": "started", "choices": list(STATES)},
    "image": {"type": "str"},
    "pull": {"type": "str", "default": "missing", "choices": ["missing", "always", "never"]},
    "command": {"type": "raw"},
    "entrypoint": {"type": "raw"},
    "env": {"type": "raw"},
    "labels": {"type": "dict"},
    "user": {"type": "str"},
    "working_dir": {"type": "str"},
    "ports": {"type": "list", "elements": "raw"},
    "mounts": {"type": "list", "elements": "dict"},
    "volumes": {"type": "list", "elements": "str"},
    "networks": {"type": "list", "elements": "raw"},
    "restart_policy": {"type": "str"},
    "healthcheck": {"type": "dict"},
    "read_only": {"type": "bool", "default": False},
    "cap_add": {"type": "list", "elements": "str"},
    "cap_drop": {"type": "list", "elements": "str"},
    "security_opt": {"type": "list", "elements": "str"},
    "no_new_privileges": {"type": "bool", "default": True},
    "init": {"type": "bool", "default": False},
    "shm_size": {"type": "str"},
    "memory": {"type": "str"},
    "memory_reservation": {"type": "str"},
    "memory_swap": {"type": "str"},
    "cpus": {"type": "str"},
    "cpu_shares": {"type": "int"},
    "cpu_period": {"type": "int"},
    "cpu_quota": {"type": "int"},
    "cpuset_cpus": {"type": "str"},
    "cpuset_mems": {"type": "str"},
    "pids_limit": {"type": "int"},
    "blkio_weight": {"type": "int"},
    "device_read_bps": {"type": "list", "elements": "dict"},
    "device_write_bps": {"type": "list", "elements": "dict"},
    "device_read_iops": {"type": "list", "elements": "dict"},
    "device_write_iops": {"type": "list", "elements": "dict"},
    "ulimits": {"type": "dict"},
    "oom_score_adj": {"type": "int"},
    "stop_timeout": {"type": "int", "default": 10},
    "depends_on": {"type": "list", "elements": "str", "default": []},
}
SERVICE_DEFAULTS = {k: v["default"] for k, v in SERVICE_ARGS.items() if "default" in v}


class SpecError(ValueError):
    """Invalid input; ``str()`` names the service, the option and the value."""


@dataclass
class Service:
    """One declared service: its spec plus what is not part of the container."""

    name: str
    container: str
    spec: dict[str, Any]
    state: str = "started"
    pull: str = "missing"
    stop_timeout: int = 10
    depends_on: list[str] = field(default_factory=list)

    @property
    def config_hash(self) -> str:
        return config_hash(self.spec)


def config_hash(spec: dict[str, Any]) -> str:
    """Hash of the options that change only by recreate, as declared."""
    data = json.dumps({k: spec.get(k) for k in RECREATE_OPTIONS}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:24]


# --------------------------------------------------------------------------
# Small parsers, each raising LimitError(option, value, expected).
# --------------------------------------------------------------------------

_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)")
_DURATION_NS = {"ns": 1, "us": 10 ** 3, "ms": 10 ** 6, "s": 10 ** 9, "m": 60 * 10 ** 9, "h": 3600 * 10 ** 9}
DURATION_HINT = "a duration such as 30s, 1m30s or 500ms, or a whole number of seconds"


def parse_duration(value: Any, option: str) -> int:
    """Nanoseconds of ``30s``, ``1m30s``, ``500ms`` or a number of seconds."""
    if isinstance(value, bool):
        raise LimitError(option, value, DURATION_HINT)
    if isinstance(value, (int, float)):
        if value < 0:
            raise LimitError(option, value, DURATION_HINT)
        return int(Decimal(str(value)) * 10 ** 9)
    text = str(value).strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return int(Decimal(text) * 10 ** 9)
    pos, total = 0, Decimal(0)
    for match in _DURATION_RE.finditer(text):
        if match.start() != pos:
            raise LimitError(option, value, DURATION_HINT)
        total += Decimal(match.group(1)) * _DURATION_NS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise LimitError(option, value, DURATION_HINT)
    return int(total)


def format_duration(ns: int | None) -> str | None:
    if not ns:
        return None
    if ns % 10 ** 9 == 0:
        return f"{ns // 10 ** 9}s"
    if ns % 10 ** 6 == 0:
        return f"{ns // 10 ** 6}ms"
    return f"{ns}ns"


def _words(value: Any, option: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise LimitError(option, value, f"a command line that splits into words ({exc})") from None
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    raise LimitError(option, value, "a string or a list of strings")


def _string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _env(value: Any, option: str = "env") -> dict[str, str] | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return {str(k): _string(v) for k, v in sorted(value.items()) if v is not None}
    if isinstance(value, (list, tuple)):
        env: dict[str, str] = {}
        for item in value:
            name, sep, val = str(item).partition("=")
            if not name or not sep:
                raise LimitError(option, item, "NAME=value")
            env[name] = val
        return dict(sorted(env.items()))
    raise LimitError(option, value, "a dict of NAME: value, or a list of NAME=value")


def _labels(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise LimitError("labels", value, "a dict of label: value")
    for key in value:
        if str(key).startswith(LABEL_PREFIX):
            raise LimitError("labels", key, f"a label outside {LABEL_PREFIX}*, which hyperdock.platform sets itself")
    return {str(k): _string(v) for k, v in sorted(value.items())}


_PORT_RE = re.compile(r"^(?:(?:(\[[0-9a-fA-F:]+\]|[0-9.]+):)?(\d*):)?(\d+)(?:/(tcp|udp|sctp))?$")
PORT_HINT = "[host_ip:][host_port:]container_port[/tcp|udp|sctp], such as 8080:80 or 127.0.0.1:8443:443/tcp"


def _port(value: Any) -> dict[str, Any]:
    match = _PORT_RE.match(str(value).strip()) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if not match:
        raise LimitError("ports", value, PORT_HINT)
    host_ip, host_port, container_port, proto = match.groups()
    for number in (host_port, container_port):
        if number and not 1 <= int(number) <= 65535:
            raise LimitError("ports", value, PORT_HINT + " with ports 1-65535")
    return {"host_ip": (host_ip or "").strip("[]"), "host_port": int(host_port) if host_port else None,
            "container_port": int(container_port), "protocol": proto or "tcp"}


def format_port(port: dict[str, Any]) -> str:
    text = f"{port['container_port']}/{port['protocol']}"
    if port["host_port"] is not None or port["host_ip"]:
        text = f"{port['host_port'] or ''}:{text}"
    if port["host_ip"]:
        ip = port["host_ip"]
        text = f"[{ip}]:{text}" if ":" in ip else f"{ip}:{text}"
    return text


def _ports(value: Any) -> list[str] | None:
    if value is None:
        return None
    ports = [_port(v) for v in value]
    seen: dict[tuple[str, int, str], Any] = {}
    for port in ports:
        if port["host_port"] is None:
            continue
        key = (port["host_ip"] or "0.0.0.0", port["host_port"], port["protocol"])
        if key in seen:
            raise LimitError("ports", format_port(port), f"each host port published once; {key[1]}/{key[2]} is taken twice")
        seen[key] = port
    return sorted(format_port(p) for p in ports)


def port_bindings(ports: list[str] | None) -> tuple[list[tuple[int, str]], dict[str, list[tuple[str, str]]]]:
    """``(ports, port_bindings)`` as ``create_container`` takes them."""
    exposed: list[tuple[int, str]] = []
    bindings: dict[str, list[tuple[str, str]]] = {}
    for text in ports or []:
        port = _port(text)
        exposed.append((port["container_port"], port["protocol"]))
        bindings.setdefault(f"{port['container_port']}/{port['protocol']}", []).append(
            (port["host_ip"] or "", str(port["host_port"]) if port["host_port"] is not None else ""))
    return exposed, bindings


def host_ports(ports: list[str] | None) -> list[tuple[str, int, str]]:
    """The ``(host_ip, host_port, protocol)`` each port takes on the host."""
    result = []
    for text in ports or []:
        port = _port(text)
        if port["host_port"] is not None:
            result.append((port["host_ip"] or "0.0.0.0", port["host_port"], port["protocol"]))
    return result


MOUNT_HINT = "a dict with source, target and optional type (volume or bind) and read_only"


def _mount(item: Any, option: str) -> dict[str, Any]:
    if isinstance(item, str):
        parts = item.split(":")
        if len(parts) not in (2, 3) or not parts[0] or not parts[1].startswith("/"):
            raise LimitError(option, item, "source:/target[:ro|rw], source being a volume name or an absolute path")
        mode = parts[2] if len(parts) == 3 else "rw"
        if mode not in ("ro", "rw"):
            raise LimitError(option, item, "source:/target[:ro|rw]")
        item = {"source": parts[0], "target": parts[1], "read_only": mode == "ro"}
    if not isinstance(item, dict):
        raise LimitError(option, item, MOUNT_HINT)
    unknown = set(item) - {"source", "target", "type", "read_only"}
    if unknown or not item.get("source") or not str(item.get("target", "")).startswith("/"):
        raise LimitError(option, item, MOUNT_HINT + " and an absolute target")
    source = str(item["source"])
    kind = item.get("type") or ("bind" if source.startswith(("/", ".")) else "volume")
    if kind not in ("volume", "bind"):
        raise LimitError(option, item, MOUNT_HINT)
    if kind == "bind" and not source.startswith("/"):
        raise LimitError(option, item, "an absolute source path for a bind mount")
    return {"type": kind, "source": source, "target": str(item["target"]).rstrip("/") or "/",
            "read_only": bool(item.get("read_only", False))}


def _mounts(mounts: Any, volumes: Any) -> list[dict[str, Any]] | None:
    if mounts is None and volumes is None:
        return None
    result = [_mount(m, "mounts") for m in mounts or []] + [_mount(v, "volumes") for v in volumes or []]
    targets: set[str] = set()
    for mount in result:
        if mount["target"] in targets:
            raise LimitError("mounts", mount["target"], "each target mounted once")
        targets.add(mount["target"])
    return sorted(result, key=lambda m: m["target"])


def _networks(value: Any) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    items = list(value.items()) if isinstance(value, dict) else [(None, v) for v in value]
    result = []
    for key, item in items:
        if key is not None:
            item = dict(item or {}, name=key)
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or not item.get("name") or set(item) - {"name", "aliases"}:
            raise LimitError("networks", item, "a network name, or a dict with name and optional aliases")
        result.append({"name": str(item["name"]), "aliases": sorted(str(a) for a in item.get("aliases") or [])})
    names = [n["name"] for n in result]
    if len(set(names)) != len(names):
        raise LimitError("networks", names, "each network named once")
    return sorted(result, key=lambda n: n["name"])


def _restart_policy(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    name, _sep, retries = text.partition(":")
    if name not in RESTART_POLICIES or (retries and (name != "on-failure" or not retries.isdigit())):
        raise LimitError("restart_policy", value, "no, always, unless-stopped, on-failure or on-failure:N")
    return f"on-failure:{int(retries)}" if retries and int(retries) else name


def restart_policy_api(policy: str | None) -> dict[str, Any] | None:
    if policy is None:
        return None
    name, _sep, retries = policy.partition(":")
    return {"Name": "" if name == "no" else name, "MaximumRetryCount": int(retries or 0)}


def _healthcheck(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    unknown = set(value) - {"test", "interval", "timeout", "retries", "start_period", "disable"}
    if unknown:
        raise LimitError("healthcheck", sorted(unknown)[0], "test, interval, timeout, retries, start_period or disable")
    if value.get("disable"):
        return {"test": ["NONE"]}
    test = value.get("test")
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    elif isinstance(test, (list, tuple)) and test:
        test = [str(t) for t in test]
        if test[0] not in ("CMD", "CMD-SHELL", "NONE"):
            test = ["CMD", *test]
    else:
        raise LimitError("healthcheck.test", test, "a shell command string, or a list [CMD, arg, ...]")
    result: dict[str, Any] = {"test": test}
    for key in ("interval", "timeout", "start_period"):
        if value.get(key) is not None:
            result[key] = format_duration(parse_duration(value[key], f"healthcheck.{key}")) or "0s"
    if value.get("retries") is not None:
        result["retries"] = parse_int(value["retries"], "healthcheck.retries", minimum=0)
    return result


def healthcheck_api(health: dict[str, Any] | None) -> dict[str, Any] | None:
    if health is None:
        return None
    result: dict[str, Any] = {"Test": health["test"]}
    for key, api in (("interval", "Interval"), ("timeout", "Timeout"), ("start_period", "StartPeriod")):
        if health.get(key):
            result[api] = parse_duration(health[key], key)
    if health.get("retries") is not None:
        result["Retries"] = health["retries"]
    return result


def _caps(value: Any, option: str) -> list[str] | None:
    if value is None:
        return None
    caps = set()
    for cap in value:
        text = str(cap).strip().upper()
        text = text[4:] if text.startswith("CAP_") else text
        if not re.fullmatch(r"[A-Z_]+", text):
            raise LimitError(option, cap, "a capability name such as NET_ADMIN or ALL")
        caps.add(text)
    return sorted(caps)


def _security_opt(value: Any, no_new_privileges: bool) -> list[str] | None:
    opts = {str(v).strip() for v in value or []}
    normal = {"no-new-privileges:true": "no-new-privileges", "no-new-privileges=true": "no-new-privileges"}
    opts = {normal.get(o, o) for o in opts}
    if no_new_privileges:
        opts.add("no-new-privileges")
    return sorted(opts) or None


def _devices(value: Any, option: str, is_bps: bool) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    result = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {"path", "rate"} or not str(item["path"]).startswith("/"):
            raise LimitError(option, item, "a dict with path (a device such as /dev/sda) and rate")
        rate = (format_size(parse_size(item["rate"], option, minimum=1)) if is_bps
                else parse_int(item["rate"], option, minimum=1))
        result.append({"path": str(item["path"]), "rate": rate})
    return sorted(result, key=lambda d: d["path"])


def devices_api(devices: list[dict[str, Any]] | None, is_bps: bool) -> list[dict[str, Any]] | None:
    if devices is None:
        return None
    return [{"Path": d["path"], "Rate": parse_size(d["rate"], "rate") if is_bps else d["rate"]} for d in devices]


ULIMIT_HINT = "a whole number, soft:hard, or a dict with soft and hard"


def _ulimits(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    result = {}
    for name, limit in sorted(value.items()):
        option = f"ulimits.{name}"
        if isinstance(limit, dict):
            soft, hard = limit.get("soft"), limit.get("hard")
            if soft is None or hard is None or set(limit) - {"soft", "hard"}:
                raise LimitError(option, limit, ULIMIT_HINT)
        elif isinstance(limit, str) and ":" in limit:
            soft, hard = limit.split(":", 1)
        else:
            soft = hard = limit
        soft_n = parse_int(soft, option, minimum=-1)
        hard_n = parse_int(hard, option, minimum=-1)
        if hard_n != -1 and (soft_n == -1 or soft_n > hard_n):
            raise LimitError(option, limit, ULIMIT_HINT + " with soft at most hard")
        result[str(name)] = f"{soft_n}:{hard_n}"
    return result


def ulimits_api(ulimits: dict[str, str] | None) -> list[dict[str, Any]] | None:
    if ulimits is None:
        return None
    result = []
    for name, text in ulimits.items():
        soft, hard = text.split(":")
        result.append({"name": name, "soft": int(soft), "hard": int(hard)})
    return result


def _image(value: Any) -> str:
    if not value or not isinstance(value, str) or any(c.isspace() for c in value):
        raise LimitError("image", value, "an image reference such as hyperdock/busybox:latest")
    if "@" in value:
        return value
    last = value.rsplit("/", 1)[-1]
    return value if ":" in last else f"{value}:latest"


# --------------------------------------------------------------------------
# A whole service.
# --------------------------------------------------------------------------

def _memory_swap(value: Any, memory: int | None) -> str | None:
    if value is None:
        return None
    if str(value).strip() in ("-1", "unlimited"):
        return "unlimited"
    swap = parse_size(value, "memory_swap", minimum=MIN_MEMORY)
    if memory is None:
        raise LimitError("memory_swap", value, "no memory_swap unless memory is set too (memory_swap is memory plus swap)")
    if swap < memory:
        raise LimitError("memory_swap", value, f"{SIZE_HINT}, at least memory ({format_size(memory)}), or -1 for unlimited")
    return format_size(swap)


def _limits(raw: dict[str, Any], cpu_count: int | None) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    memory = parse_size(raw["memory"], "memory", minimum=MIN_MEMORY) if raw.get("memory") is not None else None
    spec["memory"] = format_size(memory)
    spec["memory_swap"] = _memory_swap(raw.get("memory_swap"), memory)
    if raw.get("memory_reservation") is not None:
        reservation = parse_size(raw["memory_reservation"], "memory_reservation", minimum=MIN_MEMORY)
        if memory is not None and reservation > memory:
            raise LimitError("memory_reservation", raw["memory_reservation"], f"{SIZE_HINT}, at most memory ({format_size(memory)})")
        spec["memory_reservation"] = format_size(reservation)
    else:
        spec["memory_reservation"] = None
    if raw.get("cpus") is not None:
        amount = parse_cpus(raw["cpus"], "cpus")
        if cpu_count is not None and amount > cpu_count:
            raise LimitError("cpus", raw["cpus"], f"at most the host's {cpu_count} CPUs")
        if raw.get("cpu_quota") is not None or raw.get("cpu_period") is not None:
            raise LimitError("cpus", raw["cpus"], "either cpus or cpu_period/cpu_quota, not both (the engine refuses both)")
        spec["cpus"] = format_cpus(cpus_to_nano(amount))
    else:
        spec["cpus"] = None
    ints = (("cpu_shares", 2, 262144), ("cpu_period", 1000, 1000000), ("cpu_quota", 1000, None),
            ("blkio_weight", 10, 1000))
    for option, low, high in ints:
        spec[option] = parse_int(raw[option], option, low, high) if raw.get(option) is not None else None
    for option, count in (("cpuset_cpus", cpu_count), ("cpuset_mems", None)):
        value = raw.get(option)
        spec[option] = format_cpuset(parse_cpuset(value, option, count)) if value not in (None, "") else None
    if raw.get("pids_limit") is not None:
        pids = parse_int(raw["pids_limit"], "pids_limit", minimum=-1)
        spec["pids_limit"] = -1 if pids <= 0 else pids
    else:
        spec["pids_limit"] = None
    spec["restart_policy"] = _restart_policy(raw.get("restart_policy"))
    return spec


def normalize_service(name: str, raw: dict[str, Any], project: str | None = None,
                      cpu_count: int | None = None, container: str | None = None) -> Service:
    """Validate one service's options and return its :class:`Service`.

    ``raw`` holds the options of :data:`SERVICE_ARGS`; missing keys take their
    defaults.  Raises :class:`SpecError` naming the service.
    """
    unknown = sorted(set(raw) - set(SERVICE_ARGS))
    if unknown:
        raise SpecError(f"service {name}: {unknown[0]} is not a service option; expected one of {', '.join(sorted(SERVICE_ARGS))}")
    raw = dict(SERVICE_DEFAULTS, **{k: v for k, v in raw.items() if v is not None})
    try:
        if raw["state"] not in STATES:
            raise LimitError("state", raw["state"], ", ".join(STATES))
        if raw["state"] != "absent" and not raw.get("image"):
            raise LimitError("image", raw.get("image"), "an image reference (image is required unless state is absent)")
        spec: dict[str, Any] = {
            "image": _image(raw["image"]) if raw.get("image") else None,
            "command": _words(raw.get("command"), "command"),
            "entrypoint": _words(raw.get("entrypoint"), "entrypoint"),
            "env": _env(raw.get("env")),
            "labels": _labels(raw.get("labels")),
            "user": str(raw["user"]) if raw.get("user") is not None else None,
            "working_dir": str(raw["working_dir"]) if raw.get("working_dir") is not None else None,
            "ports": _ports(raw.get("ports")),
            "mounts": _mounts(raw.get("mounts"), raw.get("volumes")),
            "networks": _networks(raw.get("networks")),
            "healthcheck": _healthcheck(raw.get("healthcheck")),
            "read_only": bool(raw["read_only"]),
            "cap_add": _caps(raw.get("cap_add"), "cap_add"),
            "cap_drop": _caps(raw.get("cap_drop"), "cap_drop"),
            "security_opt": _security_opt(raw.get("security_opt"), bool(raw["no_new_privileges"])),
            "init": bool(raw["init"]),
            "shm_size": format_size(parse_size(raw["shm_size"], "shm_size", minimum=1)) if raw.get("shm_size") is not None else None,
            "device_read_bps": _devices(raw.get("device_read_bps"), "device_read_bps", True),
            "device_write_bps": _devices(raw.get("device_write_bps"), "device_write_bps", True),
            "device_read_iops": _devices(raw.get("device_read_iops"), "device_read_iops", False),
            "device_write_iops": _devices(raw.get("device_write_iops"), "device_write_iops", False),
            "ulimits": _ulimits(raw.get("ulimits")),
            "oom_score_adj": parse_int(raw["oom_score_adj"], "oom_score_adj", -1000, 1000) if raw.get("oom_score_adj") is not None else None,
        }
        spec.update(_limits(raw, cpu_count))
        stop_timeout = parse_int(raw["stop_timeout"], "stop_timeout", minimum=0)
        depends_on = [str(d) for d in raw.get("depends_on") or []]
    except LimitError as exc:
        raise SpecError(f"service {name}: {exc}") from None
    return Service(name=name, container=container or (f"{project}-{name}" if project else name), spec=spec,
                   state=raw["state"], pull=raw["pull"], stop_timeout=stop_timeout, depends_on=depends_on)


# --------------------------------------------------------------------------
# The Docker Compose subset.
# --------------------------------------------------------------------------

COMPOSE_TOP = {"version", "name", "services", "networks", "volumes"}
COMPOSE_SERVICE = {"image", "command", "environment", "ports", "volumes", "networks", "depends_on", "restart",
                   "healthcheck", "mem_limit", "cpus", "pids_limit", "deploy"}
COMPOSE_RESOURCES = {"limits": {"cpus": "cpus", "memory": "memory", "pids": "pids_limit"},
                     "reservations": {"memory": "memory_reservation"}}
COMPOSE_OBJECT_KEYS = {"driver", "labels", "internal", "external", "name"}


def _only(keys: Any, allowed: set[str], where: str) -> None:
    extra = sorted(set(keys) - allowed)
    if extra:
        raise SpecError(f"compose: {where}{extra[0]} is outside the supported subset; supported here: {', '.join(sorted(allowed))}")


def _compose_service(name: str, svc: Any) -> dict[str, Any]:
    where = f"services.{name}."
    if not isinstance(svc, dict):
        raise SpecError(f"compose: services.{name} must be a mapping, not {svc!r}")
    _only(svc, COMPOSE_SERVICE, where)
    out: dict[str, Any] = {}
    for src, dst in (("image", "image"), ("command", "command"), ("environment", "env"), ("mem_limit", "memory"),
                     ("cpus", "cpus"), ("pids_limit", "pids_limit"), ("restart", "restart_policy")):
        if src in svc:
            out[dst] = svc[src]
    if "ports" in svc:
        for port in svc["ports"] or []:
            if not isinstance(port, (str, int)) or isinstance(port, bool):
                raise SpecError(f"compose: {where}ports: {port!r} is outside the supported subset; use the short syntax {PORT_HINT}")
        out["ports"] = svc["ports"]
    if "volumes" in svc:
        for volume in svc["volumes"] or []:
            if not isinstance(volume, str):
                raise SpecError(f"compose: {where}volumes: {volume!r} is outside the supported subset; use the short syntax source:/target[:ro]")
        out["volumes"] = svc["volumes"]
    if "networks" in svc:
        nets = svc["networks"]
        if isinstance(nets, dict):
            for net, conf in nets.items():
                _only(conf or {}, {"aliases"}, f"{where}networks.{net}.")
        out["networks"] = nets
    if "depends_on" in svc:
        deps = svc["depends_on"]
        if isinstance(deps, dict):
            for dep, conf in deps.items():
                _only(conf or {}, {"condition"}, f"{where}depends_on.{dep}.")
                if (conf or {}).get("condition", "service_started") != "service_started":
                    raise SpecError(f"compose: {where}depends_on.{dep}.condition: {conf['condition']!r} is outside the "
                                    "supported subset; only service_started (start order) is supported")
            deps = list(deps)
        out["depends_on"] = deps
    if "healthcheck" in svc:
        health = dict(svc["healthcheck"] or {})
        _only(health, {"test", "interval", "timeout", "retries", "start_period", "disable"}, f"{where}healthcheck.")
        out["healthcheck"] = health
    if "deploy" in svc:
        deploy = svc["deploy"] or {}
        _only(deploy, {"resources"}, f"{where}deploy.")
        resources = deploy.get("resources") or {}
        _only(resources, set(COMPOSE_RESOURCES), f"{where}deploy.resources.")
        for kind, mapping in COMPOSE_RESOURCES.items():
            values = resources.get(kind) or {}
            _only(values, set(mapping), f"{where}deploy.resources.{kind}.")
            for key, option in mapping.items():
                if key in values:
                    if option in out and str(out[option]) != str(values[key]):
                        raise SpecError(f"compose: {where}deploy.resources.{kind}.{key}: {values[key]!r} conflicts with "
                                        f"the service's {option} {out[option]!r}")
                    out[option] = values[key]
    return out


def services_from_compose(compose: Any) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """``(services, networks, volumes)`` in module options from a Compose file.

    ``compose`` is the file's text or its parsed mapping.  Anything outside the
    supported subset raises :class:`SpecError` naming the key.
    """
    if isinstance(compose, str):
        import yaml  # PyYAML ships with ansible-core

        try:
            compose = yaml.safe_load(compose)
        except yaml.YAMLError as exc:
            raise SpecError(f"compose: not valid YAML: {exc}") from None
    if not isinstance(compose, dict) or not isinstance(compose.get("services"), dict):
        raise SpecError("compose: expected a mapping with a services mapping")
    _only(compose, COMPOSE_TOP, "")
    services = {str(name): _compose_service(str(name), svc) for name, svc in compose["services"].items()}
    objects: list[dict[str, dict[str, Any]]] = []
    for kind in ("networks", "volumes"):
        result: dict[str, dict[str, Any]] = {}
        for name, conf in (compose.get(kind) or {}).items():
            conf = dict(conf or {})
            _only(conf, COMPOSE_OBJECT_KEYS, f"{kind}.{name}.")
            if kind == "volumes" and "internal" in conf:
                raise SpecError(f"compose: volumes.{name}.internal is outside the supported subset")
            result[str(name)] = conf
        objects.append(result)
    return services, objects[0], objects[1]


# --------------------------------------------------------------------------
# Reading a container back.
# --------------------------------------------------------------------------

def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


def live_from_host_config(host: dict[str, Any]) -> dict[str, Any]:
    """The live options of a container's ``HostConfig``; daemon defaults read as None."""
    swap = host.get("MemorySwap")
    policy = host.get("RestartPolicy") or {}
    name = policy.get("Name") or "no"
    retries = policy.get("MaximumRetryCount") or 0
    pids = host.get("PidsLimit")
    return {
        "memory": format_size(_positive(host.get("Memory"))),
        "memory_reservation": format_size(_positive(host.get("MemoryReservation"))),
        "memory_swap": "unlimited" if swap == -1 else format_size(_positive(swap)),
        "cpus": format_cpus(_positive(host.get("NanoCpus"))),
        "cpu_shares": _positive(host.get("CpuShares")),
        "cpu_period": _positive(host.get("CpuPeriod")),
        "cpu_quota": _positive(host.get("CpuQuota")),
        "cpuset_cpus": format_cpuset(parse_cpuset(host["CpusetCpus"], "cpuset_cpus")) if host.get("CpusetCpus") else None,
        "cpuset_mems": format_cpuset(parse_cpuset(host["CpusetMems"], "cpuset_mems")) if host.get("CpusetMems") else None,
        "pids_limit": pids if isinstance(pids, int) and pids > 0 else -1,
        "blkio_weight": _positive(host.get("BlkioWeight")),
        "restart_policy": f"on-failure:{retries}" if name == "on-failure" and retries else name,
    }


def _recreate_from_inspect(attrs: dict[str, Any]) -> dict[str, Any]:
    """Best-effort reading of the recreate-only options of a foreign container."""
    config = attrs.get("Config") or {}
    host = attrs.get("HostConfig") or {}
    ports = []
    for key, binds in sorted((host.get("PortBindings") or {}).items()):
        cport, _slash, proto = key.partition("/")
        for bind in binds or []:
            ports.append(format_port({"host_ip": bind.get("HostIp") or "", "host_port": int(bind["HostPort"]) if bind.get("HostPort") else None,
                                      "container_port": int(cport), "protocol": proto or "tcp"}))
    mounts = [{"type": m.get("Type"), "source": m.get("Name") if m.get("Type") == "volume" else m.get("Source"),
               "target": m.get("Destination"), "read_only": not m.get("RW", True)} for m in attrs.get("Mounts") or []]
    nets = (attrs.get("NetworkSettings") or {}).get("Networks") or {}
    labels = {k: v for k, v in (config.get("Labels") or {}).items() if not k.startswith(LABEL_PREFIX)}
    return {
        "image": config.get("Image"),
        "command": config.get("Cmd"),
        "entrypoint": config.get("Entrypoint"),
        "env": _env(config.get("Env") or []),
        "labels": labels or None,
        "user": config.get("User") or None,
        "working_dir": config.get("WorkingDir") or None,
        "ports": sorted(ports) or None,
        "mounts": sorted(mounts, key=lambda m: m["target"] or "") or None,
        "networks": [{"name": n, "aliases": sorted(a for a in (v or {}).get("Aliases") or [] if not attrs.get("Id", "").startswith(a))}
                     for n, v in sorted(nets.items())] or None,
        "healthcheck": None,
        "read_only": bool(host.get("ReadonlyRootfs")),
        "cap_add": sorted(host.get("CapAdd") or []) or None,
        "cap_drop": sorted(host.get("CapDrop") or []) or None,
        "security_opt": sorted(host.get("SecurityOpt") or []) or None,
        "init": bool(host.get("Init")),
        "shm_size": format_size(host.get("ShmSize")),
        "device_read_bps": None, "device_write_bps": None, "device_read_iops": None, "device_write_iops": None,
        "ulimits": {u["Name"]: f"{u['Soft']}:{u['Hard']}" for u in host.get("Ulimits") or []} or None,
        "oom_score_adj": host.get("OomScoreAdj") or None,
    }


def spec_from_inspect(attrs: dict[str, Any]) -> dict[str, Any]:
    """A container's spec: recreate-only options as declared, live options as they are now."""
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    declared = None
    if labels.get(LABEL_SPEC):
        try:
            declared = json.loads(labels[LABEL_SPEC])
        except ValueError:
            declared = None
    spec = {k: (declared or {}).get(k) for k in RECREATE_OPTIONS} if isinstance(declared, dict) else _recreate_from_inspect(attrs)
    spec.update(live_from_host_config(attrs.get("HostConfig") or {}))
    return spec


def labels_for(service: Service, project: str | None) -> dict[str, str]:
    """Every label of the container: the user's plus hyperdock's own."""
    labels = dict(service.spec.get("labels") or {})
    if project:
        labels[LABEL_PROJECT] = project
    labels[LABEL_SERVICE] = service.name
    labels[LABEL_HASH] = service.config_hash
    labels[LABEL_SPEC] = json.dumps({k: service.spec.get(k) for k in RECREATE_OPTIONS}, sort_keys=True, separators=(",", ":"))
    return labels


def nano_cpus_of(spec: dict[str, Any]) -> int:
    """CPUs a spec may use, in NanoCpus (cpus, else cpu_quota/cpu_period); 0 when unlimited."""
    if spec.get("cpus"):
        return cpus_to_nano(parse_cpus(spec["cpus"], "cpus")) or 0
    if spec.get("cpu_quota"):
        return spec["cpu_quota"] * 10 ** 9 // (spec.get("cpu_period") or 100000)
    return 0
