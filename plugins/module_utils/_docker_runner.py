# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the docker_service* modules do, from validated params to exit_json.

Each module's ``main()`` is its argument_spec and one call into this file:
validate and normalise, read the daemon, plan (pure), then apply unless in
check mode.  Every failure is a ``fail_json`` naming the service, the option
and the value; no traceback reaches the user.
"""

from __future__ import annotations

import datetime
from typing import Any

from ansible_collections.hyperdock.platform.plugins.module_utils._docker import (
    CONNECTION_ARGS,
    DEFAULT_PARALLEL,
    DockerError,
    connect,
    translate,
)
from ansible_collections.hyperdock.platform.plugins.module_utils._docker_apply import (
    actual_from_inspect,
    apply_plan,
    existing_resources,
    parallel_map,
    pull_images,
    read_actual,
    resolve_images,
    usage,
    wait_ready,
)
from ansible_collections.hyperdock.platform.plugins.module_utils._docker_plan import (
    Resource,
    check_budget,
    check_ports,
    plan_services,
    recreated_because,
    topological_levels,
)
from ansible_collections.hyperdock.platform.plugins.module_utils._docker_spec import (
    LABEL_PROJECT,
    LABEL_SERVICE,
    SERVICE_ARGS,
    Service,
    SpecError,
    normalize_service,
    services_from_compose,
)
from ansible_collections.hyperdock.platform.plugins.module_utils._units import (
    LimitError,
    cpus_to_nano,
    format_size,
    parse_cpus,
    parse_int,
    parse_size,
)

SERVICE_MODULE_ARGS: dict[str, Any] = dict(
    {"name": {"type": "str", "required": True}, "remove_volumes": {"type": "bool", "default": False}},
    **{k: v for k, v in SERVICE_ARGS.items() if k != "depends_on"},
    **CONNECTION_ARGS,
)

SERVICES_MODULE_ARGS: dict[str, Any] = dict(
    {
        "project": {"type": "str", "required": True},
        "services": {"type": "dict", "default": {}},
        "compose": {"type": "raw"},
        "networks": {"type": "raw"},
        "volumes": {"type": "raw"},
        "prune": {"type": "bool", "default": False},
        "remove_volumes": {"type": "bool", "default": False},
        "budget": {"type": "dict", "options": {"memory": {"type": "str"}, "cpus": {"type": "str"}, "pids": {"type": "int"}}},
        "budget_scope": {"type": "str", "default": "host", "choices": ["host", "project"]},
        "overcommit": {"type": "float", "default": 1.0},
        "require_limits": {"type": "bool", "default": False},
        "parallel": {"type": "int", "default": DEFAULT_PARALLEL},
        "wait": {"type": "bool", "default": False},
        "wait_timeout": {"type": "int", "default": 300},
    },
    **CONNECTION_ARGS,
)

INFO_MODULE_ARGS: dict[str, Any] = dict(
    {
        "name": {"type": "list", "elements": "str"},
        "project": {"type": "str"},
        "usage": {"type": "bool", "default": True},
        "parallel": {"type": "int", "default": DEFAULT_PARALLEL},
    },
    **CONNECTION_ARGS,
)


def _needs_host_cpus(raws: list[dict[str, Any]]) -> bool:
    return any(r.get("cpuset_cpus") is not None or r.get("cpus") is not None for r in raws)


def _other_containers(client: Any, project: str, parallel: int) -> dict[str, dict[str, int]]:
    """The limits of running containers that are not this project's (they share the budget)."""
    from ansible_collections.hyperdock.platform.plugins.module_utils._docker_apply import inspect

    try:
        listing = client.api.containers(filters={"status": "running"})
    except Exception as exc:
        raise translate(exc, "listing containers") from None
    ids = [c["Id"] for c in listing if (c.get("Labels") or {}).get(LABEL_PROJECT) != project]
    result = {}
    for attrs in parallel_map(lambda i: inspect(client, i), ids, parallel):
        if attrs is None:  # gone meanwhile
            continue
        host = attrs.get("HostConfig") or {}
        cpus = host.get("NanoCpus") or (host["CpuQuota"] * 10**9 // host["CpuPeriod"] if (host.get("CpuQuota") or 0) > 0 and host.get("CpuPeriod") else 0)
        result[attrs.get("Name", attrs["Id"][:12]).lstrip("/")] = {
            "memory": host.get("Memory") or 0, "cpus": cpus, "pids": max(host.get("PidsLimit") or 0, 0)}
    return result


def _host_info(client: Any) -> dict[str, Any]:
    try:
        return client.info()
    except Exception as exc:
        raise translate(exc, "docker info") from None


def _result(plan: Any, module: Any, **extra: Any) -> dict[str, Any]:
    result = dict(changed=plan.changed or bool(extra.get("pulled")), actions=plan.as_list(), **extra)
    if module._diff:
        result["diff"] = plan.diff()
    return result


def _execute(module: Any, client: Any, services: list[Service], project: str | None, parallel: int,
             prune: bool = False, resources: list[Resource] | None = None, remove_volumes: bool = False,
             wait_timeout: int | None = None) -> tuple[Any, dict[str, Any]]:
    """Read, plan, and (unless check mode) apply; returns ``(plan, result extras)``."""
    levels = topological_levels(services)
    actual, orphans, _raw = read_actual(client, services, project, parallel)
    image_ids = resolve_images(client, services, parallel)
    pulled: list[str] = []
    if not module.check_mode:
        pulled = pull_images(client, services, image_ids, parallel)
    elif any(image_ids.get(s.spec["image"]) is None and s.pull == "never" for s in services if s.state != "absent"):
        pull_images(client, services, image_ids, parallel)  # raises the same error a real run would
    resources = resources or []
    plan = plan_services(services, actual, image_ids, orphans if prune else [], resources,
                         existing_resources(client, resources))
    ids: dict[str, Any] = {}
    wait = None if wait_timeout is None or module.check_mode else (lambda level: wait_ready(client, level, wait_timeout))
    if not module.check_mode and plan.changed:
        ids = apply_plan(client, plan, levels, actual, orphans if prune else [], resources, project, parallel,
                         remove_volumes, wait)
    elif wait is not None:
        wait(services)  # nothing changed, but the caller asked for ready services
    containers = {}
    for service in services:
        cid = ids.get(service.name, actual[service.name].id if service.name in actual else None)
        containers[service.name] = {"container": service.container, "id": cid,
                                    "state": service.state if cid or service.state == "absent" else "absent"}
    return plan, {"pulled": pulled, "recreated_because": recreated_because(plan), "services": containers}


def run_service(module: Any) -> None:
    """docker_service: one container."""
    params = module.params
    raw = {k: params.get(k) for k in SERVICE_ARGS if k != "depends_on"}
    client = connect(module)
    try:
        cpu_count = _host_info(client).get("NCPU") if _needs_host_cpus([raw]) else None
        service = normalize_service(params["name"], raw, cpu_count=cpu_count, container=params["name"])
        plan, extra = _execute(module, client, [service], None, 1, remove_volumes=params["remove_volumes"])
    except (SpecError, DockerError) as exc:
        module.fail_json(msg=str(exc))
    one = extra["services"][service.name]
    module.exit_json(**_result(plan, module, pulled=extra["pulled"],
                               recreated_because=extra["recreated_because"].get(service.name, []),
                               container={"name": service.container, "id": one["id"], "state": one["state"]}))


def _objects(value: Any, option: str) -> dict[str, dict[str, Any]]:
    if value is None:
        return {}
    if isinstance(value, list):
        value = {str(v): {} for v in value}
    if not isinstance(value, dict):
        raise SpecError(f"{option}: {value!r} is not valid; expected a list of names or a dict of name: options")
    result = {}
    for name, conf in value.items():
        conf = dict(conf or {})
        extra = sorted(set(conf) - {"driver", "labels", "internal", "external", "name"})
        if extra:
            raise SpecError(f"{option}.{name}: {extra[0]} is not supported; expected driver, labels, internal or external")
        result[str(name)] = conf
    return result


def _resources(networks: dict[str, dict[str, Any]], volumes: dict[str, dict[str, Any]]) -> list[Resource]:
    result = []
    for kind, objects in (("network", networks), ("volume", volumes)):
        for name, conf in sorted(objects.items()):
            if not conf.get("external"):
                result.append(Resource(kind, str(conf.get("name") or name), conf))
    return result


def _budget(params: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    given = params.get("budget") or {}
    ratio = params["overcommit"]
    if ratio <= 0:
        raise SpecError(f"overcommit: {ratio!r} is not valid; expected a positive ratio such as 1.0 or 1.5")
    try:
        memory = parse_size(given["memory"], "budget.memory") if given.get("memory") else int(info.get("MemTotal", 0) * ratio) or None
        cpus = (cpus_to_nano(parse_cpus(given["cpus"], "budget.cpus")) if given.get("cpus")
                else int(info.get("NCPU", 0) * ratio * 10 ** 9) or None)
        pids = parse_int(given["pids"], "budget.pids", minimum=1) if given.get("pids") is not None else None
    except LimitError as exc:
        raise SpecError(str(exc)) from None
    return {"memory": memory, "cpus": cpus, "pids": pids}


def run_services(module: Any) -> None:
    """docker_services: a project's services in one call."""
    params = module.params
    project = params["project"]
    client = connect(module)
    try:
        raws = dict(params["services"] or {})
        networks = _objects(params.get("networks"), "networks")
        volumes = _objects(params.get("volumes"), "volumes")
        if params.get("compose") is not None:
            c_services, c_networks, c_volumes = services_from_compose(params["compose"])
            for name in c_services:
                if name in raws:
                    raise SpecError(f"service {name}: declared both in compose and in services; declare it once")
            raws.update(c_services)
            networks.update(c_networks)
            volumes.update(c_volumes)
        if params["parallel"] < 1:
            raise SpecError(f"parallel: {params['parallel']!r} is not valid; expected a whole number at least 1")
        for name, raw in raws.items():
            if not isinstance(raw, dict):
                raise SpecError(f"service {name}: expected a dict of service options, not {raw!r}")
        info = _host_info(client)
        services = [normalize_service(str(name), raw or {}, project=project, cpu_count=info.get("NCPU"))
                    for name, raw in sorted(raws.items())]
        topological_levels(services)
        check_ports(services)
        others = _other_containers(client, project, params["parallel"]) if params["budget_scope"] == "host" else {}
        budget = check_budget(services, _budget(params, info), params["require_limits"], others,
                              where=f"Docker host {info.get('Name') or '?'} (project {project})")
        if params["wait_timeout"] < 1:
            raise SpecError(f"wait_timeout: {params['wait_timeout']!r} is not valid; expected a number of seconds, at least 1")
        plan, extra = _execute(module, client, services, project, params["parallel"], params["prune"],
                               _resources(networks, volumes), params["remove_volumes"],
                               params["wait_timeout"] if params["wait"] else None)
    except (SpecError, DockerError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**_result(plan, module, budget=budget, **extra))


# --------------------------------------------------------------------------
# docker_service_info
# --------------------------------------------------------------------------

def _uptime(state: dict[str, Any]) -> float | None:
    started = state.get("StartedAt")
    if not state.get("Running") or not started:
        return None
    text = started.rstrip("Z")
    text = text.split(".")[0] + "." + (text.split(".")[1][:6] if "." in text else "0")
    try:
        when = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    return round((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds(), 1)


def describe(attrs: dict[str, Any]) -> dict[str, Any]:
    """A container in the module vocabulary: configuration, state, health, uptime."""
    actual = actual_from_inspect(attrs)
    state = attrs.get("State") or {}
    return {
        "name": actual.service,
        "container": actual.container,
        "id": actual.id,
        "project": actual.project,
        "state": "started" if actual.running else "stopped",
        "status": state.get("Status"),
        "health": (state.get("Health") or {}).get("Status"),
        "started_at": state.get("StartedAt") if actual.running else None,
        "uptime_seconds": _uptime(state),
        "restart_count": attrs.get("RestartCount", 0),
        "config": {k: v for k, v in actual.spec.items() if v is not None},
    }


def _with_usage(entry: dict[str, Any], client: Any, pid: int | None = None) -> dict[str, Any]:
    if entry["state"] != "started":
        entry["usage"] = None
        return entry
    use = usage(client, entry["id"], pid)
    limit = entry["config"].get("memory")
    mem_limit = parse_size(limit, "memory") if limit else None
    entry["usage"] = {
        "memory_used": format_size(use["memory_used"] - use["memory_used"] % 1024) if use["memory_used"] is not None else None,
        "memory_used_bytes": use["memory_used"],
        "memory_limit": limit,
        "memory_percent": round(use["memory_used"] * 100 / mem_limit, 2) if mem_limit and use["memory_used"] is not None else None,
        "cpu_percent": use["cpu_percent"],
        "cpus_limit": entry["config"].get("cpus"),
        "pids_used": use["pids_used"],
        "pids_limit": entry["config"].get("pids_limit") if (entry["config"].get("pids_limit") or 0) > 0 else None,
        "source": use["source"],
    }
    return entry


def host_summary(info: dict[str, Any]) -> dict[str, Any]:
    """The engine's host from one ``GET /info``: what a map or a budget needs to know about it."""
    memory = info.get("MemTotal")
    return {
        "name": info.get("Name"),
        "server_version": info.get("ServerVersion"),
        "cpus": info.get("NCPU"),
        "memory": format_size(memory),
        "memory_bytes": memory,
        "containers_running": info.get("ContainersRunning"),
    }


def run_info(module: Any) -> None:
    params = module.params
    client = connect(module)
    try:
        host = host_summary(_host_info(client))
    except DockerError as exc:
        module.fail_json(msg=str(exc))
    try:
        if params.get("project"):
            listing = client.api.containers(all=True, filters={"label": f"{LABEL_PROJECT}={params['project']}"})
            targets = [c["Id"] for c in listing]
        elif params.get("name"):
            targets = list(params["name"])
        else:
            listing = client.api.containers(all=True, filters={"label": LABEL_SERVICE})
            targets = [c["Id"] for c in listing]
    except Exception as exc:
        module.fail_json(msg=str(translate(exc, "listing containers")))
    from ansible_collections.hyperdock.platform.plugins.module_utils._docker_apply import inspect

    try:
        inspected = parallel_map(lambda t: inspect(client, t), targets, params["parallel"])
        found = [a for a in inspected if a is not None]
        entries = [describe(a) for a in found]
        missing = [t for t, a in zip(targets, inspected) if a is None]
        if params["usage"]:
            pids = [(a.get("State") or {}).get("Pid") or None for a in found]
            entries = parallel_map(lambda pair: _with_usage(pair[0], client, pair[1]), list(zip(entries, pids)), params["parallel"])
    except DockerError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, services=sorted(entries, key=lambda e: e["name"]), missing=missing, host=host)
