# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The platform map: which container runs on which guest on which hypervisor, and how full each layer is.

The input is what the info modules already return (hypervisor_info, guest_info,
docker_service_info), so the map needs no daemon of its own.  Everything up to
the file contents is pure: :func:`build_map` validates and normalises the input
into one JSON-able dict, and the ``render_*`` functions turn that dict into
text, Graphviz DOT and one self-contained HTML page.  Only
:func:`run_platform_map` touches the disk and runs ``dot``.

Output is deterministic (everything sorted, no timestamps): identical input
gives identical files, so a second run reports no change.
"""

from __future__ import annotations

import html
import json
import math
import os
import tempfile
from decimal import Decimal
from typing import Any

from ansible_collections.hyperdock.platform.plugins.module_utils._units import (
    NANO,
    LimitError,
    cpus_to_nano,
    format_cpus,
    format_size,
    parse_cpus,
    parse_int,
    parse_size,
)

FORMATS = ("json", "svg", "html", "text")
FILENAMES = {"json": "map.json", "svg": "map.svg", "html": "map.html", "text": "map.txt"}
DEFAULT_TITLE = "hyperdock platform"

# A gauge is "high" from here, and the map warns about a container this close to its memory limit.
HIGH_PERCENT = 90.0
WARN_PERCENT = 75.0

# The module's options (the module file holds the documentation).
ARGUMENT_SPEC: dict[str, Any] = {
    "hypervisors": {
        "type": "list", "elements": "dict", "default": [],
        "options": {
            "name": {"type": "str", "required": True},
            "uri": {"type": "str"},
            "capacity": {"type": "dict", "default": {}},
            "guests": {"type": "list", "elements": "dict", "default": []},
        },
    },
    "docker_hosts": {
        "type": "list", "elements": "dict", "default": [],
        "options": {
            "name": {"type": "str", "required": True},
            "hypervisor": {"type": "str"},
            "guest": {"type": "str"},
            "budget": {"type": "dict", "options": {"memory": {"type": "str"}, "cpus": {"type": "str"}, "pids": {"type": "int"}}},
            "capacity": {"type": "dict"},
            "services": {"type": "list", "elements": "dict", "default": []},
        },
    },
    "dest": {"type": "path", "required": True},
    "formats": {"type": "list", "elements": "str", "choices": list(FORMATS), "default": list(FORMATS)},
    "title": {"type": "str", "default": DEFAULT_TITLE},
}


# ---------------------------------------------------------------- numbers


def _signed_size(number: int | None) -> str | None:
    if number is None:
        return None
    return "-" + str(format_size(-number)) if number < 0 else format_size(number)


def cpus_text(nano: int | None) -> str | None:
    """NanoCpus in the cpus vocabulary, with ``0`` and negatives (format_cpus leaves those out)."""
    if nano is None:
        return None
    if nano == 0:
        return "0"
    return "-" + str(format_cpus(-nano)) if nano < 0 else format_cpus(nano)


def percent(used: int | None, limit: int | None) -> float | None:
    if used is None or not limit:
        return None
    return round(used * 100 / limit, 1)


def gauge(used: int | None, limit: int | None, kind: str) -> dict[str, Any]:
    """``used`` against ``limit`` with what is free and the percentage.

    ``kind`` is ``bytes`` (reported in format_size and in bytes), ``cpus``
    (NanoCpus in, the cpus vocabulary out) or ``count`` (vCPUs, pids).  No
    limit means no free and no percentage.
    """
    free = None if used is None or limit is None else limit - used
    result: dict[str, Any] = {"percent": percent(used, limit)}
    if kind == "bytes":
        result.update(used=format_size(used), used_bytes=used, limit=format_size(limit), limit_bytes=limit,
                      free=_signed_size(free), free_bytes=free)
    elif kind == "cpus":
        result.update(used=cpus_text(used), limit=cpus_text(limit), free=cpus_text(free))
    else:
        result.update(used=used, limit=limit, free=free)
    return result


def short_size(number: int | None) -> str:
    """A size for people to read at a glance: ``2.5G``, ``640M``, ``5.1M`` (approximate past 2 decimals)."""
    if number is None:
        return "-"
    if number < 0:
        return "-" + short_size(-number)
    for suffix, unit in (("T", 1024 ** 4), ("G", 1024 ** 3), ("M", 1024 ** 2), ("K", 1024)):
        if number >= unit:
            value = Decimal(number) / unit
            if value == value.quantize(Decimal("0.01")):
                text = format(value.quantize(Decimal("0.01")), "f").rstrip("0").rstrip(".")
            else:
                text = format(value, ".1f") if value < 100 else format(value, ".0f")
            return text + suffix
    return "0" if number == 0 else f"{number}B"


def short_cpus(nano: int | None) -> str:
    return cpus_text(nano) or "-"


# ---------------------------------------------------------------- input


def _mapping(value: Any, option: str, expected: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise LimitError(option, value, expected)
    return value


def _name(value: Any, option: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise LimitError(option, value, "a non-empty name")
    return value


def _size(values: dict[str, Any], key: str, option: str) -> int | None:
    """``key_bytes`` when the info module gave it, else ``key`` parsed as a size."""
    if values.get(f"{key}_bytes") is not None:
        return parse_size(values[f"{key}_bytes"], f"{option}.{key}_bytes")
    if values.get(key) is not None:
        return parse_size(values[key], f"{option}.{key}")
    return None


def _count(value: Any, option: str) -> int | None:
    return None if value is None else parse_int(value, option, minimum=0)


def _nano(value: Any, option: str) -> int | None:
    return None if value is None else cpus_to_nano(parse_cpus(value, option))


def _float(value: Any, option: str) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise LimitError(option, value, "a number") from None
    if isinstance(value, bool) or not math.isfinite(number) or number < 0:
        raise LimitError(option, value, "a number at least 0")
    return number


def _unique(names: list[str], option: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise LimitError(option, name, "names that appear once")
        seen.add(name)


def _addresses(guest: dict[str, Any]) -> list[str]:
    found = []
    for nic in guest.get("interfaces") or []:
        if isinstance(nic, dict):
            found.extend(str(a) for a in nic.get("addresses") or [])
    return sorted(set(found))


def normalise_guest(raw: Any, hypervisor: str, index: int) -> dict[str, Any]:
    """One guest of guest_info, with what it takes of its hypervisor's budget (its ceilings)."""
    raw = _mapping(raw, f"hypervisors[{hypervisor}].guests[{index}]", "a guest as hyperdock.platform.guest_info returns it")
    name = _name(raw.get("name"), f"hypervisors[{hypervisor}].guests[{index}].name")
    where = f"hypervisors[{hypervisor}].guests[{name}]"
    live = _mapping(raw.get("live"), f"{where}.live", "a dict")
    running = raw.get("state") == "running"
    vcpus = _count((live if running and live.get("vcpus") is not None else raw).get("vcpus"), f"{where}.vcpus")
    memory = _size(live if running and live.get("memory") is not None else raw, "memory", where)
    max_vcpus = _count(raw.get("max_vcpus"), f"{where}.max_vcpus")
    max_memory = _size(raw, "max_memory", where)
    # The same ceilings the guest budget counts (hypervisor_info, guest_budget): what the guest may grow to.
    take_vcpus = max_vcpus if max_vcpus is not None else vcpus
    take_memory = max_memory if max_memory is not None else memory
    usage = _mapping(raw.get("usage"), f"{where}.usage", "a dict with cpu_time_seconds and memory_rss")
    # In use inside the guest (its own kernel's count) against its memory; the host-side RSS also holds the
    # emulator's memory, so it is reported beside it, not measured against the guest's size.
    used = _size(usage, "memory_used", f"{where}.usage") if usage else None
    rss = _size(usage, "memory_rss", f"{where}.usage") if usage else None
    labels = _mapping(raw.get("labels"), f"{where}.labels", "a dict of label: value")
    return {
        "name": name,
        "hypervisor": hypervisor,
        "state": str(raw.get("state") or "unknown"),
        "type": raw.get("hypervisor"),
        "vcpus": vcpus,
        "max_vcpus": max_vcpus,
        "memory": format_size(memory),
        "memory_bytes": memory,
        "max_memory": format_size(max_memory),
        "max_memory_bytes": max_memory,
        "allocation": {"vcpus": take_vcpus, "memory": format_size(take_memory), "memory_bytes": take_memory},
        "addresses": _addresses(raw),
        "labels": {str(k): str(v) for k, v in sorted(labels.items())},
        "usage": None if not usage else {
            "cpu_time_seconds": usage.get("cpu_time_seconds"),
            "memory": gauge(used, memory, "bytes"),
            "rss": format_size(rss),
            "rss_bytes": rss,
        },
        "docker_host": None,
    }


def normalise_hypervisor(raw: dict[str, Any], index: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A hypervisor and its guests: (hypervisor, guests)."""
    name = _name(raw.get("name"), f"hypervisors[{index}].name")
    where = f"hypervisors[{name}]"
    cap = _mapping(raw.get("capacity"), f"{where}.capacity", "the hypervisor dict that hyperdock.platform.hypervisor_info returns")
    budget = _mapping(cap.get("budget"), f"{where}.capacity.budget", "a dict with cpus and memory")
    cpus = _count(cap.get("cpus"), f"{where}.capacity.cpus")
    memory = _size(cap, "memory", f"{where}.capacity")
    raw_guests = raw.get("guests") or []
    if not isinstance(raw_guests, list):
        raise LimitError(f"{where}.guests", raw_guests, "the guests list that hyperdock.platform.guest_info returns")
    guests = sorted((normalise_guest(g, name, i) for i, g in enumerate(raw_guests)), key=lambda g: g["name"])
    _unique([g["name"] for g in guests], f"{where}.guests[].name")
    # Without a budget (capacity from elsewhere), the guests may take the whole host.
    budget_cpus = _count(budget.get("cpus"), f"{where}.capacity.budget.cpus") if budget else cpus
    budget_memory = _size(budget, "memory", f"{where}.capacity.budget") if budget else memory
    used_vcpus = sum(g["allocation"]["vcpus"] or 0 for g in guests)
    used_memory = sum(g["allocation"]["memory_bytes"] or 0 for g in guests)
    rss = [g["usage"]["rss_bytes"] for g in guests if g["usage"] and g["usage"]["rss_bytes"] is not None]
    hypervisor = {
        "name": name,
        "uri": raw.get("uri") or cap.get("uri"),
        "hostname": cap.get("hostname"),
        "driver": cap.get("driver"),
        "accelerator": cap.get("accelerator"),
        "libvirt_version": cap.get("libvirt_version"),
        "cpus": cpus,
        "memory": format_size(memory),
        "memory_bytes": memory,
        "budget": {"vcpus": gauge(used_vcpus, budget_cpus, "count"), "memory": gauge(used_memory, budget_memory, "bytes")},
        "usage": {"memory": gauge(sum(rss), memory, "bytes")} if rss else None,
        "guests": [g["name"] for g in guests],
        "docker_hosts": [],
    }
    return hypervisor, guests


def _container_cpus(config: dict[str, Any], option: str) -> int | None:
    if config.get("cpus") is not None:
        return _nano(config["cpus"], f"{option}.cpus")
    quota = parse_int(config.get("cpu_quota") or 0, f"{option}.cpu_quota", minimum=-1)
    period = parse_int(config.get("cpu_period") or 0, f"{option}.cpu_period", minimum=0)
    return quota * NANO // period if quota > 0 and period > 0 else None


def normalise_container(raw: Any, host: dict[str, Any], index: int) -> dict[str, Any]:
    """One service of docker_service_info: its limits and its usage against them."""
    option = f"docker_hosts[{host['name']}].services[{index}]"
    raw = _mapping(raw, option, "a service as hyperdock.platform.docker_service_info returns it")
    name = _name(raw.get("name") or raw.get("container"), f"{option}.name")
    option = f"docker_hosts[{host['name']}].services[{name}]"
    config = _mapping(raw.get("config"), f"{option}.config", "a dict of docker_service options")
    memory = _size(config, "memory", f"{option}.config")
    cpus = _container_cpus(config, f"{option}.config")
    pids = _count(config.get("pids_limit"), f"{option}.config.pids_limit") if (config.get("pids_limit") or 0) > 0 else None
    use = _mapping(raw.get("usage"), f"{option}.usage", "a dict of usage figures")
    running = raw.get("state") == "started"
    usage = None
    if use and running:
        used = _size(use, "memory_used", f"{option}.usage")
        cpu_percent = _float(use.get("cpu_percent"), f"{option}.usage.cpu_percent")
        # docker's cpu_percent: 100 is one whole CPU; kept to the 1/1000 CPU the vocabulary has.
        cpu_used = None if cpu_percent is None else round(cpu_percent * 10) * 10 ** 6
        usage = {
            "memory": gauge(used, memory, "bytes"),
            "cpus": gauge(cpu_used, cpus, "cpus"),
            "pids": gauge(_count(use.get("pids_used"), f"{option}.usage.pids_used"), pids, "count"),
            "source": use.get("source"),
        }
    return {
        "name": name,
        "container": str(raw.get("container") or name),
        "project": raw.get("project"),
        "docker_host": host["name"],
        "guest": host["guest"],
        "hypervisor": host["hypervisor"],
        "image": config.get("image"),
        "state": "started" if running else "stopped",
        "status": raw.get("status"),
        "health": raw.get("health"),
        "restart_count": raw.get("restart_count") or 0,
        "limits": {"memory": format_size(memory), "memory_bytes": memory, "cpus": cpus_text(cpus), "pids": pids},
        "usage": usage,
    }


def _pick(*candidates: tuple[str, int | None]) -> tuple[str | None, int | None]:
    for source, value in candidates:
        if value is not None:
            return source, value
    return None, None


def normalise_docker_host(raw: dict[str, Any], index: int, hypervisors: dict[str, dict[str, Any]],
                          guests: dict[tuple[str, str], dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A Docker host, placed on its guest, and its containers: (docker host, containers)."""
    name = _name(raw.get("name"), f"docker_hosts[{index}].name")
    where = f"docker_hosts[{name}]"
    # An empty string is what an inventory variable defaulted with '' gives: the same as null.
    hv_name, guest_name = raw.get("hypervisor") or None, raw.get("guest") or None
    if hv_name is not None and hv_name not in hypervisors:
        known = ", ".join(sorted(hypervisors)) or "none are given"
        raise LimitError(f"{where}.hypervisor", hv_name,
                         f"the name of one of hypervisors ({known}), or null for a Docker host that is not a guest")
    guest = None
    if guest_name is not None:
        if hv_name is None:
            raise LimitError(f"{where}.guest", guest_name, "null, or a hypervisor as well: a guest is looked up among its hypervisor's guests")
        guest = guests.get((hv_name, guest_name))
        if guest is None:
            known = ", ".join(hypervisors[hv_name]["guests"]) or "it has none"
            raise LimitError(f"{where}.guest", guest_name, f"one of the guests of hypervisor {hv_name} ({known})")
        if guest["docker_host"] is not None:
            raise LimitError(f"{where}.guest", guest_name, f"a guest no other Docker host runs on (docker_hosts[{guest['docker_host']}] does)")
    cap = _mapping(raw.get("capacity"), f"{where}.capacity", "a dict with cpus and memory (docker_service_info's host)")
    budget = _mapping(raw.get("budget"), f"{where}.budget", "a dict with memory, cpus and pids")
    cap_cpus = _nano(cap.get("cpus"), f"{where}.capacity.cpus")
    cap_memory = _size(cap, "memory", f"{where}.capacity")
    # The containers' budget: the one declared, else what the engine sees, else what its guest has.
    cpus_from, cpus_limit = _pick(("budget", _nano(budget.get("cpus"), f"{where}.budget.cpus")), ("capacity", cap_cpus),
                                  ("guest", cpus_to_nano(Decimal(guest["vcpus"])) if guest and guest["vcpus"] is not None else None))
    memory_from, memory_limit = _pick(("budget", _size(budget, "memory", f"{where}.budget")), ("capacity", cap_memory),
                                      ("guest", guest["memory_bytes"] if guest else None))
    pids_limit = parse_int(budget["pids"], f"{where}.budget.pids", minimum=1) if budget.get("pids") is not None else None
    host = {"name": name, "hypervisor": hv_name, "guest": guest_name}
    services = raw.get("services") or []
    if not isinstance(services, list):
        raise LimitError(f"{where}.services", services, "the services list that hyperdock.platform.docker_service_info returns")
    containers = sorted((normalise_container(s, host, i) for i, s in enumerate(services)), key=lambda c: (c["name"], c["container"]))
    _unique([c["container"] for c in containers], f"{where}.services[].container")
    # Stopped containers count too: they may start at any time without another budget check.
    sums = {
        "memory": sum(c["limits"]["memory_bytes"] or 0 for c in containers),
        "cpus": sum(_nano(c["limits"]["cpus"], "cpus") or 0 for c in containers),
        "pids": sum(c["limits"]["pids"] or 0 for c in containers),
    }
    host.update({
        "engine": {k: cap.get(k) for k in ("name", "server_version", "containers_running") if cap.get(k) is not None},
        "capacity": {"cpus": cpus_text(cap_cpus), "memory": format_size(cap_memory), "memory_bytes": cap_memory},
        "budget": {
            "memory": dict(gauge(sums["memory"], memory_limit, "bytes"), source=memory_from),
            "cpus": dict(gauge(sums["cpus"], cpus_limit, "cpus"), source=cpus_from),
            "pids": dict(gauge(sums["pids"], pids_limit, "count"), source="budget" if pids_limit else None),
        },
        "unlimited": {
            "memory": [c["name"] for c in containers if c["limits"]["memory_bytes"] is None],
            "cpus": [c["name"] for c in containers if c["limits"]["cpus"] is None],
            "pids": [c["name"] for c in containers if c["limits"]["pids"] is None],
        },
        "containers": [c["name"] for c in containers],
    })
    if guest is not None:
        guest["docker_host"] = name
    elif hv_name is not None:
        hypervisors[hv_name]["docker_hosts"].append(name)
    return host, containers


def _over(what: str, value: dict[str, Any], show: Any) -> str | None:
    if value["percent"] is None or value["percent"] <= 100:
        return None
    return f"{what}: {show(value)} used of {value['limit']} ({value['percent']}%)"


def _warnings(hypervisors: list[dict[str, Any]], guests: list[dict[str, Any]], hosts: list[dict[str, Any]],
              containers: list[dict[str, Any]]) -> list[dict[str, str]]:
    """What needs a look, worst first within each layer, in map order."""
    found: list[dict[str, str]] = []

    def add(level: str, layer: str, name: str, message: str) -> None:
        found.append({"level": level, "layer": layer, "name": name, "message": message})

    for hv in hypervisors:
        for key, label in (("vcpus", "vCPUs"), ("memory", "memory")):
            over = _over(f"guest {label}", hv["budget"][key], lambda g: g["used"])
            if over:
                add("error", "hypervisor", hv["name"], f"hypervisor {hv['name']} is over its guest budget: {over}")
    for guest in guests:
        if guest["state"] != "running":
            add("warning", "guest", guest["name"], f"guest {guest['name']} on {guest['hypervisor']} is {guest['state']}")
    for host in hosts:
        for key in ("memory", "cpus", "pids"):
            over = _over(f"{key} limits", host["budget"][key], lambda g: g["used"])
            if over:
                add("error", "docker_host", host["name"], f"Docker host {host['name']} is over its service budget: {over}")
        if host["unlimited"]["memory"]:
            add("warning", "docker_host", host["name"],
                f"Docker host {host['name']}: no memory limit on {', '.join(host['unlimited']['memory'])}")
    for c in containers:
        where = f"container {c['name']} on {c['docker_host']}"
        if c["state"] != "started":
            add("warning", "container", c["name"], f"{where} is stopped ({c['status'] or 'not running'})")
        elif c["health"] == "unhealthy":
            add("error", "container", c["name"], f"{where} is unhealthy")
        memory = (c["usage"] or {}).get("memory") or {}
        if memory.get("percent") is not None and memory["percent"] >= HIGH_PERCENT:
            add("warning", "container", c["name"], f"{where} uses {memory['percent']}% of its memory limit {c['limits']['memory']}")
    order = {"error": 0, "warning": 1}
    return sorted(found, key=lambda w: order[w["level"]])  # stable: map order within a level


def build_map(hypervisors: list[dict[str, Any]], docker_hosts: list[dict[str, Any]], title: str = DEFAULT_TITLE) -> dict[str, Any]:
    """Validate and normalise the module's input into the map.  Raises LimitError naming the option and value."""
    hv_items: list[dict[str, Any]] = []
    guest_items: list[dict[str, Any]] = []
    for index, raw in enumerate(hypervisors or []):
        hv, guests = normalise_hypervisor(_mapping(raw, f"hypervisors[{index}]", "a dict with name, uri, capacity and guests"), index)
        hv_items.append(hv)
        guest_items.extend(guests)
    _unique([hv["name"] for hv in hv_items], "hypervisors[].name")
    by_hv = {hv["name"]: hv for hv in hv_items}
    by_guest = {(g["hypervisor"], g["name"]): g for g in guest_items}
    host_items: list[dict[str, Any]] = []
    container_items: list[dict[str, Any]] = []
    raw_hosts = [_mapping(raw, f"docker_hosts[{i}]", "a dict with name, hypervisor, guest and services") for i, raw in enumerate(docker_hosts or [])]
    _unique([_name(h.get("name"), f"docker_hosts[{i}].name") for i, h in enumerate(raw_hosts)], "docker_hosts[].name")
    # Sorted first, so which of two Docker hosts claiming one guest is named in the error does not depend on input order.
    for index, raw in sorted(enumerate(raw_hosts), key=lambda pair: str(pair[1].get("name"))):
        host, containers = normalise_docker_host(raw, index, by_hv, by_guest)
        host_items.append(host)
        container_items.extend(containers)
    for hv in hv_items:
        hv["docker_hosts"].sort()
    hv_items.sort(key=lambda h: h["name"])
    guest_items.sort(key=lambda g: (g["hypervisor"], g["name"]))
    container_items.sort(key=lambda c: (c["docker_host"], c["name"], c["container"]))
    warnings = _warnings(hv_items, guest_items, host_items, container_items)
    started = [c for c in container_items if c["state"] == "started"]
    return {
        "title": title,
        "summary": {
            "hypervisors": len(hv_items),
            "guests": len(guest_items),
            "docker_hosts": len(host_items),
            "containers": len(container_items),
            "running": len(started),
            "stopped": len(container_items) - len(started),
            "unhealthy": sum(c["health"] == "unhealthy" for c in started),
            "errors": sum(w["level"] == "error" for w in warnings),
            "warnings": sum(w["level"] == "warning" for w in warnings),
        },
        "hypervisors": hv_items,
        "guests": guest_items,
        "docker_hosts": host_items,
        "containers": container_items,
        "warnings": warnings,
    }


# ---------------------------------------------------------------- shared by the renderers


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def summary_line(data: dict[str, Any]) -> str:
    s = data["summary"]
    states = [f"{s['running']} running"]
    if s["stopped"]:
        states.append(f"{s['stopped']} stopped")
    if s["unhealthy"]:
        states.append(f"{s['unhealthy']} unhealthy")
    return (f"{_plural(s['hypervisors'], 'hypervisor')}, {_plural(s['guests'], 'guest')}, "
            f"{_plural(s['docker_hosts'], 'Docker host')}, {_plural(s['containers'], 'container')} ({', '.join(states)})")


def _show(value: dict[str, Any], kind: str) -> tuple[str, str | None]:
    """(used, limit) of a gauge, for people."""
    if kind == "bytes":
        return short_size(value["used_bytes"]), None if value["limit_bytes"] is None else short_size(value["limit_bytes"])
    used, limit = value["used"], value["limit"]
    return ("-" if used is None else str(used)), (None if limit is None else str(limit))


def fraction(value: dict[str, Any], kind: str) -> str:
    """``640M/1.5G``, or just ``640M`` without a limit."""
    used, limit = _show(value, kind)
    return used if limit is None else f"{used}/{limit}"


def container_status(c: dict[str, Any]) -> str:
    """What one word says about a container: stopped, unhealthy, starting, healthy or running."""
    if c["state"] != "started":
        return "stopped"
    return c["health"] or "running"


def services_text(host: dict[str, Any]) -> str:
    budget = host["budget"]
    parts = [f"{fraction(budget['cpus'], 'cpus')} cpus", f"{fraction(budget['memory'], 'bytes')} memory"]
    if budget["pids"]["limit"] is not None or budget["pids"]["used"]:
        parts.append(f"{fraction(budget['pids'], 'count')} pids")
    return "services " + ", ".join(parts)


def guest_resources(guest: dict[str, Any]) -> str:
    text = f"{_plural(guest['vcpus'] or 0, 'vCPU')} {short_size(guest['memory_bytes'])}"
    usage = guest["usage"]
    if not usage:
        return text
    seen = [f"{short_size(usage['memory']['used_bytes'])} in use"] if usage["memory"]["used_bytes"] is not None else []
    seen += [f"rss {short_size(usage['rss_bytes'])}"] if usage["rss_bytes"] is not None else []
    return text + (f" ({', '.join(seen)})" if seen else "")


def container_figures(c: dict[str, Any]) -> tuple[str, str, str]:
    """(memory, cpus, pids) of a container as ``used/limit``; ``-`` for what is not known."""
    limits, usage = c["limits"], c["usage"] or {}
    memory_limit = short_size(limits["memory_bytes"]) if limits["memory_bytes"] is not None else "unlimited"
    memory_used = short_size(usage["memory"]["used_bytes"]) if usage and usage["memory"]["used_bytes"] is not None else "-"
    cpus_limit = limits["cpus"] or "unlimited"
    cpus_used = usage["cpus"]["used"] if usage and usage["cpus"]["used"] is not None else "-"
    pids_limit = str(limits["pids"]) if limits["pids"] else "unlimited"
    pids_used = str(usage["pids"]["used"]) if usage and usage["pids"]["used"] is not None else "-"
    return f"{memory_used}/{memory_limit}", f"{cpus_used}/{cpus_limit}", f"{pids_used}/{pids_limit}"


def _index(data: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]], dict[tuple[str, str], dict[str, Any]]]:
    """(Docker hosts by name, containers by Docker host, guests by (hypervisor, name))."""
    hosts = {h["name"]: h for h in data["docker_hosts"]}
    containers: dict[str, list[dict[str, Any]]] = {name: [] for name in hosts}
    for c in data["containers"]:
        containers[c["docker_host"]].append(c)
    guests = {(g["hypervisor"], g["name"]): g for g in data["guests"]}
    return hosts, containers, guests


# ---------------------------------------------------------------- text


def _table(rows: list[list[str]]) -> list[str]:
    """Rows with each column padded to its widest cell (among the rows that go on past it)."""
    widths: dict[int, int] = {}
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths.get(i, 0), len(cell))
    return ["  ".join(cell.ljust(widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row)).rstrip() for row in rows]


def _container_row(c: dict[str, Any]) -> list[str]:
    memory, cpus, pids = container_figures(c)
    return [c["name"], container_status(c), c["image"] or "-", f"mem {memory}", f"cpus {cpus}", f"pids {pids}"]


def _host_row(host: dict[str, Any], where: str) -> list[str]:
    engine = host["engine"].get("server_version")
    return [host["name"], where + (f"  Docker {engine}" if engine else ""), services_text(host)]


def _branch(lines: list[str], rows: list[list[str]], children: list[list[list[str]]]) -> None:
    """Two levels of a tree: ``rows`` and under each its ``children`` rows, columns aligned among siblings."""
    for i, (row, grand) in enumerate(zip(_table(rows), children)):
        last = i == len(rows) - 1
        lines.append(("└── " if last else "├── ") + row)
        for j, child in enumerate(_table(grand)):
            lines.append(("    " if last else "│   ") + ("└── " if j == len(grand) - 1 else "├── ") + child)


def render_text(data: dict[str, Any]) -> str:
    """The map as a text tree: hypervisor, guests (and their Docker host's budget), containers."""
    hosts, containers, guests = _index(data)
    lines = [f"{data['title']}: {summary_line(data)}"]
    for hv in data["hypervisors"]:
        budget = hv["budget"]
        head = [hv["name"], hv["uri"] or "-", hv["accelerator"] or "-",
                f"guests {fraction(budget['vcpus'], 'count')} vCPUs, {fraction(budget['memory'], 'bytes')} memory"]
        lines += ["", "  ".join(head)]
        rows: list[list[str]] = []
        children: list[list[list[str]]] = []
        for name in hv["guests"]:
            guest = guests[(hv["name"], name)]
            host = hosts.get(guest["docker_host"] or "")
            row = [name, guest["state"], guest_resources(guest)]
            if host is None:
                row.append("no Docker host")
            else:
                row.append(("" if host["name"] == name else f"Docker host {host['name']}  ") + services_text(host))
            rows.append(row)
            children.append([_container_row(c) for c in containers[host["name"]]] if host else [])
        for name in hv["docker_hosts"]:
            rows.append(_host_row(hosts[name], "Docker on the hypervisor itself"))
            children.append([_container_row(c) for c in containers[name]])
        _branch(lines, rows, children)
    loose = [h for h in data["docker_hosts"] if h["hypervisor"] is None]
    if loose:
        lines += ["", "Docker hosts on no hypervisor"]
        _branch(lines, [_host_row(h, "not a guest") for h in loose], [[_container_row(c) for c in containers[h["name"]]] for h in loose])
    if data["warnings"]:
        lines += ["", f"Needs attention ({len(data['warnings'])}):"]
        lines += [f"  {w['level']:<7}  {w['message']}" for w in data["warnings"]]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- Graphviz DOT

# Fill and border colours by container status: the same palette as the HTML page.
STATUS_COLOURS = {
    "healthy": ("#e6f4ea", "#2f855a"),
    "running": ("#e6f4ea", "#2f855a"),
    "starting": ("#fff4d6", "#b7791f"),
    "unhealthy": ("#fde8e8", "#c53030"),
    "stopped": ("#edf0f3", "#718096"),
}


def dot_quote(text: object) -> str:
    """A DOT string: quotes and backslashes escaped, so no value can end it or become an escape such as \\N."""
    value = str(text).replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\t", " ")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_label(*lines: object) -> str:
    """A multi-line DOT label, each line escaped on its own and joined with DOT's centred newline."""
    return "\\n".join(dot_quote(line)[1:-1] for line in lines if line not in (None, ""))


def _dot_containers(out: list[str], node: str, items: list[dict[str, Any]], indent: str) -> None:
    if not items:
        out.append(f'{indent}{node}_c0 [label="no services", style="rounded,dashed", color="#a0aec0", fontcolor="#718096"];')
        return
    for i, c in enumerate(items):
        memory, cpus, pids = container_figures(c)
        fill, line = STATUS_COLOURS[container_status(c)]
        label = _dot_label(c["name"], f"{container_status(c)}  {c['image'] or ''}", f"mem {memory}", f"cpus {cpus}  pids {pids}")
        out.append(f'{indent}{node}_c{i} [label="{label}", fillcolor="{fill}", color="{line}"];')
    # Invisible edges stack a guest's containers in one column.
    for i in range(len(items) - 1):
        out.append(f"{indent}{node}_c{i} -> {node}_c{i + 1} [style=invis];")


def _dot_host(out: list[str], node: str, host: dict[str, Any], title: str, items: list[dict[str, Any]], indent: str) -> None:
    out.append(f"{indent}subgraph cluster_{node} {{")
    out.append(f'{indent}  label="{_dot_label(title, services_text(host))}";')
    out.append(f'{indent}  style="rounded,filled"; fillcolor="#ffffff"; color="#4a5568";')
    _dot_containers(out, node, items, indent + "  ")
    out.append(f"{indent}}}")


def render_dot(data: dict[str, Any]) -> str:
    """The map as a Graphviz digraph: a cluster per hypervisor, per guest inside it, containers as nodes."""
    hosts, containers, guests = _index(data)
    order: list[str] = []
    out = [
        "digraph platform {",
        f'  graph [label="{_dot_label(data["title"], summary_line(data))}", labelloc=t, fontname="Helvetica", fontsize=14, '
        'rankdir=TB, nodesep=0.25, ranksep=0.2];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, margin="0.12,0.06"];',
        '  edge [style=invis];',
    ]
    for h, hv in enumerate(data["hypervisors"]):
        budget = hv["budget"]
        label = _dot_label(f"{hv['name']}  ({hv['accelerator'] or '?'})", hv["uri"],
                           f"guests {fraction(budget['vcpus'], 'count')} vCPUs, {fraction(budget['memory'], 'bytes')} memory")
        out.append(f"  subgraph cluster_h{h} {{")
        out.append(f'    label="{label}"; style="rounded,filled"; fillcolor="#edf2f7"; color="#2d3748"; fontsize=12;')
        # Graphviz lays sub-clusters out in its own order; an invisible anchor whose edges leave in
        # map order (ordering=out) keeps the guests left to right as the tree and the page list them.
        children = [f"h{h}_g{g}_c0" for g in range(len(hv["guests"]))] + [f"h{h}_d{d}_c0" for d in range(len(hv["docker_hosts"]))]
        if len(children) > 1:
            out.append(f'    h{h}_top [shape=point, style=invis, width=0, height=0, label="", ordering=out];')
            order += [f"  h{h}_top -> {child} [weight=0];" for child in children]
        for g, name in enumerate(hv["guests"]):
            guest = guests[(hv["name"], name)]
            host = hosts.get(guest["docker_host"] or "")
            title = f"{name}  {guest['state']}  {guest_resources(guest)}"
            if host is None:
                out.append(f"    subgraph cluster_h{h}_g{g} {{")
                out.append(f'      label="{_dot_label(title, "no Docker host")}"; style="rounded,filled"; fillcolor="#ffffff"; color="#a0aec0";')
                out.append(f'      h{h}_g{g}_c0 [label="no Docker host", style="rounded,dashed", color="#a0aec0", fontcolor="#718096"];')
                out.append("    }")
            else:
                _dot_host(out, f"h{h}_g{g}", host, title, containers[host["name"]], "    ")
        for d, name in enumerate(hv["docker_hosts"]):
            _dot_host(out, f"h{h}_d{d}", hosts[name], f"{name}  Docker on the hypervisor itself", containers[name], "    ")
        out.append("  }")
    for d, host in enumerate(h for h in data["docker_hosts"] if h["hypervisor"] is None):
        _dot_host(out, f"x{d}", host, f"{host['name']}  not a guest", containers[host["name"]], "  ")
    out += order
    out.append("}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- HTML

CSS = """
:root { --ink: #1a202c; --muted: #5a6778; --line: #d8dee6; --bg: #f3f5f8; --card: #ffffff;
  --ok: #2f9e5b; --warn: #d69e2e; --high: #dd6b20; --over: #c53030; --none: #cbd2d9; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto,
  "DejaVu Sans", sans-serif; }
header.top { background: #1f2a3c; color: #fff; padding: 18px 28px 16px; }
header.top h1 { margin: 0 0 8px; font-size: 22px; font-weight: 650; letter-spacing: .2px; }
.chips { display: flex; flex-wrap: wrap; gap: 8px; margin: 0; padding: 0; list-style: none; }
.chips li { background: rgba(255,255,255,.12); border-radius: 999px; padding: 3px 12px; font-size: 13px; }
.chips li b { font-size: 15px; }
.chips li.bad { background: var(--over); }
.chips li.warn { background: #8a6d1d; }
.legend { margin: 10px 0 0; font-size: 12px; color: #c8d1dc; display: flex; gap: 14px; flex-wrap: wrap; align-items: center; }
.legend i { display: inline-block; width: 22px; height: 8px; border-radius: 4px; margin-right: 5px; vertical-align: middle; }
main { padding: 18px 28px 8px; }
.attention { background: #fff; border: 1px solid #f1c0c0; border-left: 6px solid var(--over); border-radius: 8px;
  padding: 10px 16px; margin-bottom: 18px; }
.attention h2 { margin: 0 0 6px; font-size: 15px; }
.attention ul { margin: 0; padding: 0; list-style: none; columns: 2; column-gap: 28px; }
.attention li { padding: 2px 0; break-inside: avoid; }
.attention li::before { content: ""; display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 8px; }
.attention li.error::before { background: var(--over); }
.attention li.warning::before { background: var(--warn); }
section.layer { background: #e8edf3; border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px 16px;
  margin-bottom: 18px; }
section.layer.over { border-left: 6px solid var(--over); }
.layer-head { display: grid; grid-template-columns: minmax(300px, 1fr) minmax(520px, 1.3fr); gap: 10px 28px; align-items: center;
  margin-bottom: 12px; }
.kind { display: inline-block; font-size: 11px; text-transform: uppercase; letter-spacing: .8px; color: var(--muted);
  font-weight: 600; margin-right: 8px; }
.layer-head h2 { display: inline; margin: 0 8px 0 0; font-size: 20px; }
.layer-head .sub { margin: 4px 0 0; color: var(--muted); }
code { font: 12px ui-monospace, "DejaVu Sans Mono", monospace; background: rgba(0,0,0,.05); padding: 1px 5px; border-radius: 4px; }
.tag { display: inline-block; border-radius: 4px; padding: 1px 7px; font-size: 12px; font-weight: 600; background: #2d3748;
  color: #fff; vertical-align: 2px; }
.meters { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 8px 18px; }
.meter .m-top { display: flex; justify-content: space-between; font-size: 12px; color: var(--muted); margin-bottom: 3px; gap: 8px; }
.meter .m-top b { color: var(--ink); }
.bar { height: 10px; border-radius: 5px; background: #dfe5ec; overflow: hidden; }
.bar > span { display: block; height: 100%; border-radius: 5px; }
.lvl-ok { background: var(--ok); } .lvl-warn { background: var(--warn); } .lvl-high { background: var(--high); }
.lvl-over { background: repeating-linear-gradient(45deg, var(--over) 0 6px, #e25555 6px 12px); }
.lvl-none { background: repeating-linear-gradient(45deg, var(--none) 0 4px, #e3e8ee 4px 8px); width: 100%; }
.guests { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 14px; }
article.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px 10px;
  box-shadow: 0 1px 2px rgba(16,24,40,.06); border-top: 4px solid var(--ok); }
article.card.st-warn { border-top-color: var(--warn); }
article.card.st-bad { border-top-color: var(--over); }
article.card.st-off { border-top-color: #a0aec0; }
.card-head { display: flex; align-items: baseline; gap: 8px; flex-wrap: wrap; }
.card-head h3 { margin: 0; font-size: 17px; }
.card .sub { margin: 3px 0 10px; color: var(--muted); font-size: 13px; }
.badge { display: inline-block; border-radius: 999px; padding: 1px 9px; font-size: 12px; font-weight: 600; border: 1px solid; }
.b-healthy, .b-running { background: #e6f4ea; color: #22663f; border-color: #9bd3b0; }
.b-starting, .b-paused { background: #fff4d6; color: #7a5200; border-color: #f0cf7a; }
.b-unhealthy { background: #fde8e8; color: #9b1c1c; border-color: #f5a3a3; }
.b-stopped, .b-shutoff, .b-unknown, .b-other { background: #edf0f3; color: #4a5568; border-color: #cbd2d9; }
table.ctr { width: 100%; border-collapse: collapse; margin-top: 10px; font-size: 13px; }
table.ctr th { text-align: left; font-weight: 600; font-size: 11px; text-transform: uppercase; letter-spacing: .5px;
  color: var(--muted); border-bottom: 1px solid var(--line); padding: 4px 6px; }
table.ctr td { border-bottom: 1px solid #eef1f4; padding: 6px; vertical-align: middle; }
table.ctr tr:last-child td { border-bottom: 0; }
table.ctr td.name strong { font-size: 14px; }
table.ctr td.name small { display: block; color: var(--muted); font: 11px ui-monospace, "DejaVu Sans Mono", monospace; }
table.ctr td.mem { width: 34%; }
table.ctr td.mem .bar { height: 8px; margin-bottom: 2px; }
table.ctr tr.stopped td { color: #718096; }
.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
.empty { color: var(--muted); font-style: italic; margin: 8px 0 2px; }
.note { margin: 6px 0 0; font-size: 11.5px; color: var(--muted); }
.label { display: inline-block; font-size: 11px; color: #2c5282; background: #ebf4ff; border: 1px solid #bee3f8;
  border-radius: 4px; padding: 0 6px; }
section.graph { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 12px 16px; margin-bottom: 18px; }
section.graph h2 { margin: 0 0 8px; font-size: 16px; }
section.graph .svg { overflow: auto; }
section.graph svg { max-width: 100%; height: auto; }
footer { color: var(--muted); font-size: 12px; padding: 0 28px 20px; }
"""


def h(value: object) -> str:
    """Everything from the input goes through here: escaped for text and attribute values alike."""
    return html.escape("" if value is None else str(value), quote=True)


def level(pct: float | None) -> str:
    if pct is None:
        return "none"
    if pct > 100:
        return "over"
    if pct >= HIGH_PERCENT:
        return "high"
    return "warn" if pct >= WARN_PERCENT else "ok"


def _bar(value: dict[str, Any]) -> str:
    pct = value["percent"]
    lvl = level(pct)
    width = "" if pct is None else f' style="width:{min(pct, 100.0):.1f}%"'
    return f'<div class="bar"><span class="lvl-{lvl}"{width}></span></div>'


def meter(label: str, value: dict[str, Any], kind: str, unit: str = "") -> str:
    """A labelled bar: used against limit, with the percentage (or that there is no limit)."""
    used, limit = _show(value, kind)
    unit = f" {unit}" if unit else ""
    if limit is None:
        figure = f"{h(used)}{h(unit)} &middot; no limit"
    else:
        over = " over" if (value["percent"] or 0) > 100 else ""
        figure = f"{h(used)} / {h(limit)}{h(unit)} &middot; <b>{h(value['percent'])}%{over}</b>"
    return (f'<div class="meter"><div class="m-top"><span>{h(label)}</span><span class="num">{figure}</span></div>'
            f"{_bar(value)}</div>")


def _badge(text: str) -> str:
    known = {"healthy", "running", "starting", "paused", "unhealthy", "stopped", "shutoff", "unknown"}
    return f'<span class="badge b-{text if text in known else "other"}">{h(text)}</span>'


def _container_rows(items: list[dict[str, Any]]) -> str:
    if not items:
        return '<p class="empty">no services</p>'
    rows = []
    for c in items:
        status = container_status(c)
        memory_text, cpus, pids = container_figures(c)
        usage = c["usage"]
        if usage and usage["memory"]["used_bytes"] is not None:
            # A container without a memory limit gets the striped "no limit" bar: it may take the whole guest.
            memory = f'{_bar(usage["memory"])}<span class="num">{h(fraction(usage["memory"], "bytes").replace("/", " / "))}'
            memory += " &middot; no limit</span>" if c["limits"]["memory_bytes"] is None else "</span>"
        else:
            memory = f'<span class="num">{h(memory_text.replace("/", " / "))}</span>'
        container = f" &middot; {h(c['container'])}" if c["container"] != c["name"] else ""
        rows.append(
            f'<tr class="{h(status)}"><td class="name"><strong>{h(c["name"])}</strong><small>{h(c["image"] or "-")}{container}</small></td>'
            f'<td>{_badge(status)}</td><td class="mem">{memory}</td>'
            f'<td class="num">{h(cpus.replace("/", " / "))}</td><td class="num">{h(pids.replace("/", " / "))}</td></tr>')
    return ('<table class="ctr"><thead><tr><th>container</th><th>status</th><th>memory in use / limit</th>'
            f'<th>cpus</th><th>pids</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


SOURCES = {"budget": "the declared budget", "capacity": "what the engine sees", "guest": "the guest's vCPUs and memory"}


def _host_meters(host: dict[str, Any]) -> list[str]:
    budget = host["budget"]
    result = [meter("container cpus", budget["cpus"], "cpus"), meter("container memory", budget["memory"], "bytes")]
    if budget["pids"]["limit"] is not None:
        result.append(meter("container pids", budget["pids"], "count"))
    return result


def budget_note(host: dict[str, Any]) -> str:
    """Where a Docker host's service budget comes from, in words."""
    sources = {k: host["budget"][k]["source"] for k in ("cpus", "memory")}
    if len(set(sources.values())) == 1:
        where = SOURCES.get(str(sources["cpus"]), "no budget")
    else:
        where = ", ".join(f"{k}: {SOURCES.get(str(v), 'no budget')}" for k, v in sources.items())
    return f"Container limits (stopped containers too) against {where}."


def _over_budget(gauges: dict[str, Any]) -> bool:
    return any((g["percent"] or 0) > 100 for g in gauges.values())


def _card_state(statuses: list[str], own: str, over: bool = False) -> str:
    if over or "unhealthy" in statuses:
        return "st-bad"
    if own not in ("running", "started") or "stopped" in statuses or "starting" in statuses:
        return "st-off" if own not in ("running", "started") else "st-warn"
    return ""


def _card(kind: str, name: str, state: str, sub: list[str], meters: list[str], items: list[dict[str, Any]] | None,
          note: str = "", labels: dict[str, str] | None = None, over: bool = False) -> str:
    statuses = [container_status(c) for c in items or []]
    body = _container_rows(items) if items is not None else '<p class="empty">no Docker host on this guest</p>'
    subline = " &middot; ".join(h(part) for part in sub if part)
    chips = "".join(f'<span class="label">{h(k)}={h(v)}</span>' for k, v in (labels or {}).items())
    note_html = f'<p class="note">{h(note)}</p>' if note else ""
    return (f'<article class="card {_card_state(statuses, state, over)}" id="{h(kind.replace(" ", "-").lower())}-{h(name)}">'
            f'<div class="card-head"><span class="kind">{h(kind)}</span><h3>{h(name)}</h3>{_badge(state)}{chips}</div>'
            f'<p class="sub">{subline}</p><div class="meters">{"".join(meters)}</div>{note_html}{body}</article>')


def _engine(host: dict[str, Any]) -> str:
    version = host["engine"].get("server_version")
    return f"Docker host {host['name']}" + (f" (Docker {version})" if version else "")


def _hv_section(hv: dict[str, Any], guests: dict[tuple[str, str], dict[str, Any]], hosts: dict[str, dict[str, Any]],
                containers: dict[str, list[dict[str, Any]]]) -> str:
    cards = []
    for name in hv["guests"]:
        guest = guests[(hv["name"], name)]
        host = hosts.get(guest["docker_host"] or "")
        take = guest["allocation"]
        sub = [f"{_plural(guest['vcpus'] or 0, 'vCPU')}, {short_size(guest['memory_bytes'])} memory",
               f"takes {take['vcpus']} vCPUs, {short_size(take['memory_bytes'])} of the budget"
               if (take["vcpus"], take["memory_bytes"]) != (guest["vcpus"], guest["memory_bytes"]) else "",
               ", ".join(guest["addresses"]), _engine(host) if host else ""]
        meters = _host_meters(host) if host else []
        if guest["usage"] and guest["usage"]["memory"]["used_bytes"] is not None:
            meters.append(meter("memory in guest", guest["usage"]["memory"], "bytes"))
        if guest["usage"] and guest["usage"]["rss_bytes"] is not None:
            sub.append(f"host RSS {short_size(guest['usage']['rss_bytes'])}")
        cards.append(_card("guest", name, guest["state"], sub, meters, containers[host["name"]] if host else None,
                           budget_note(host) if host else "", guest["labels"], bool(host and _over_budget(host["budget"]))))
    for name in hv["docker_hosts"]:
        host = hosts[name]
        cards.append(_card("Docker host", name, "running", ["Docker on the hypervisor itself", _engine(host)],
                           _host_meters(host), containers[name], budget_note(host), over=_over_budget(host["budget"])))
    budget = hv["budget"]
    host_line = [hv["hostname"] and f"host {hv['hostname']}", hv["cpus"] is not None and _plural(hv["cpus"], "CPU"),
                 hv["memory_bytes"] is not None and f"{short_size(hv['memory_bytes'])} memory",
                 hv["libvirt_version"] and f"libvirt {hv['libvirt_version']}"]
    meters = [meter("guest vCPUs", budget["vcpus"], "count"), meter("guest memory", budget["memory"], "bytes")]
    if hv["usage"]:
        meters.append(meter("guest RSS of host", hv["usage"]["memory"], "bytes"))
    accel = f' <span class="tag">{h(hv["accelerator"])}</span>' if hv["accelerator"] else ""
    return (f'<section class="layer{" over" if _over_budget(budget) else ""}" id="hypervisor-{h(hv["name"])}"><div class="layer-head"><div>'
            f'<span class="kind">hypervisor</span><h2>{h(hv["name"])}</h2>{accel} <code>{h(hv["uri"] or "")}</code>'
            f'<p class="sub">{" &middot; ".join(h(x) for x in host_line if x)}</p></div>'
            f'<div><div class="meters">{"".join(meters)}</div><p class="note">What the guests may grow to (maximum vCPUs and '
            "memory) against the guest budget: the host less what is reserved, times the overcommit ratio.</p></div></div>"
            f'<div class="guests">{"".join(cards) or "<p class=empty>no guests</p>"}</div></section>')


def inline_svg(svg: str) -> str:
    """The <svg> element alone: no XML declaration or DOCTYPE (an external DTD) inside the page."""
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else ""


def render_html(data: dict[str, Any], svg: str | None = None) -> str:
    """One self-contained page: inline CSS, no script, no external resource; every input value escaped."""
    hosts, containers, guests = _index(data)
    s = data["summary"]
    chips = [f"<li><b>{s['hypervisors']}</b> hypervisors</li>", f"<li><b>{s['guests']}</b> guests</li>",
             f"<li><b>{s['docker_hosts']}</b> Docker hosts</li>", f"<li><b>{s['containers']}</b> containers</li>",
             f"<li><b>{s['running']}</b> running</li>"]
    if s["unhealthy"]:
        chips.append(f'<li class="bad"><b>{s["unhealthy"]}</b> unhealthy</li>')
    if s["stopped"]:
        chips.append(f'<li class="warn"><b>{s["stopped"]}</b> stopped</li>')
    legend = ('<p class="legend"><span><i class="lvl-ok"></i>under 75%</span><span><i class="lvl-warn"></i>75-90%</span>'
              '<span><i class="lvl-high"></i>90-100%</span><span><i class="lvl-over"></i>over budget</span>'
              '<span><i class="lvl-none"></i>no limit</span></p>')
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{h(data['title'])}</title>",
        f"<style>{CSS}</style></head><body>",
        f'<header class="top"><h1>{h(data["title"])}</h1><ul class="chips">{"".join(chips)}</ul>{legend}</header>',
        "<main>",
    ]
    if data["warnings"]:
        items = "".join(f'<li class="{h(w["level"])}">{h(w["message"])}</li>' for w in data["warnings"])
        parts.append(f'<section class="attention"><h2>Needs attention ({len(data["warnings"])})</h2><ul>{items}</ul></section>')
    parts += [_hv_section(hv, guests, hosts, containers) for hv in data["hypervisors"]]
    loose = [host for host in data["docker_hosts"] if host["hypervisor"] is None]
    if loose:
        cards = [_card("Docker host", host["name"], "running", ["not a guest", _engine(host)], _host_meters(host),
                       containers[host["name"]], budget_note(host), over=_over_budget(host["budget"])) for host in loose]
        parts.append('<section class="layer" id="no-hypervisor"><div class="layer-head"><div><span class="kind">no hypervisor</span>'
                     '<h2>Docker hosts that are not guests</h2></div></div>'
                     f'<div class="guests">{"".join(cards)}</div></section>')
    if svg:
        parts.append(f'<section class="graph" id="graph"><h2>Graph</h2><div class="svg">{inline_svg(svg)}</div></section>')
    parts += ["</main>",
              "<footer>hyperdock.platform.platform_map, from hypervisor_info, guest_info and docker_service_info. Bars: what a "
              "layer's items take (their limits) against the layer's budget; container memory: in use against its limit.</footer>",
              "</body></html>"]
    return "\n".join(parts) + "\n"


def render_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------- the module


def _current(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _write(module: Any, path: str, content: bytes) -> None:
    """Atomically: a temporary file beside the target, then rename, so a reader never sees half a map."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".platform_map-", suffix=".tmp")
    module.add_cleanup_file(tmp)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    os.chmod(tmp, 0o644)
    module.atomic_move(tmp, path)


def _svg(module: Any, dot_text: str) -> str:
    dot = module.get_bin_path("dot")
    if not dot:
        module.fail_json(msg="formats: 'svg' needs Graphviz's dot, which is not on the controller's PATH; install graphviz "
                             "(apt-get install graphviz, dnf install graphviz) or leave svg out of formats")
    rc, out, err = module.run_command([dot, "-Tsvg"], data=dot_text, binary_data=True)
    if rc != 0:
        module.fail_json(msg=f"formats: 'svg': {dot} -Tsvg exited {rc}: {err.strip()}", dot=dot_text)
    return str(out)


def run_platform_map(module: Any) -> None:
    params = module.params
    formats = [f for f in FORMATS if f in (params["formats"] or [])]
    if not formats:
        module.fail_json(msg=f"formats: {params['formats']!r} is not valid; expected at least one of {', '.join(FORMATS)}")
    try:
        data = build_map(params["hypervisors"], params["docker_hosts"], params["title"])
    except LimitError as exc:
        module.fail_json(msg=str(exc))
    tree = render_text(data)
    svg = _svg(module, render_dot(data)) if "svg" in formats else None
    contents = {"json": render_json(data), "svg": svg or "", "html": render_html(data, svg), "text": tree}
    dest = params["dest"]
    if os.path.exists(dest) and not os.path.isdir(dest):
        module.fail_json(msg=f"dest: {dest!r} is not valid; expected a directory (it is a file)")
    changed = not os.path.isdir(dest)
    if changed and not module.check_mode:
        try:
            os.makedirs(dest, 0o755)
        except OSError as exc:
            module.fail_json(msg=f"dest: {dest!r}: cannot create it: {exc.strerror}")
    files = {fmt: os.path.join(dest, FILENAMES[fmt]) for fmt in formats}
    before: dict[str, bytes | None] = {}
    for fmt, path in files.items():
        content = contents[fmt].encode("utf-8")
        try:
            before[fmt] = _current(path)
        except OSError as exc:
            module.fail_json(msg=f"dest: cannot read {path}: {exc.strerror}")
        differs = before[fmt] != content
        if differs and not module.check_mode:
            try:
                _write(module, path, content)
            except OSError as exc:
                module.fail_json(msg=f"dest: cannot write {path}: {exc.strerror}")
        if os.path.exists(path):
            differs = module.set_mode_if_different(path, "0644", differs)
        changed = changed or differs
    result: dict[str, Any] = {"changed": changed, "files": files, "tree": tree, "map": data}
    if module._diff:
        shown = "text" if "text" in formats else formats[0]
        old = before[shown]
        result["diff"] = {"before": "" if old is None else old.decode("utf-8", "replace"), "after": contents[shown],
                          "before_header": files[shown], "after_header": files[shown]}
    module.exit_json(**result)
