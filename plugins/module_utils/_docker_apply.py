# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading Docker state and applying a plan, with bounded parallelism.

Reads: one container listing, then the inspects, image look-ups and stats that
are needed, in parallel.  Writes: the plan's actions, service by service;
services in the same ``depends_on`` wave run in parallel, at most
``parallel`` at a time.  Every SDK exception becomes a DockerError that names
the service and the step.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from ansible_collections.hyperdock.platform.plugins.module_utils._docker import (
    DockerError,
    is_not_found,
    translate,
    update_resources,
)
from ansible_collections.hyperdock.platform.plugins.module_utils._docker_plan import Actual, Resource
from ansible_collections.hyperdock.platform.plugins.module_utils._docker_spec import (
    LABEL_HASH,
    LABEL_PROJECT,
    LABEL_SERVICE,
    Service,
    devices_api,
    healthcheck_api,
    labels_for,
    port_bindings,
    restart_policy_api,
    spec_from_inspect,
    ulimits_api,
)
from ansible_collections.hyperdock.platform.plugins.module_utils._plan import Plan
from ansible_collections.hyperdock.platform.plugins.module_utils._units import (
    cpus_to_nano,
    parse_cpus,
    parse_size,
)


def parallel_map(func: Callable[[Any], Any], items: list[Any], parallel: int) -> list[Any]:
    """``func`` over ``items`` with at most ``parallel`` at once; re-raises the first error."""
    if len(items) <= 1 or parallel <= 1:
        return [func(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(parallel, len(items))) as pool:
        futures = [pool.submit(func, item) for item in items]
        results, first_error = [], None
        for future in futures:
            try:
                results.append(future.result())
            except Exception as exc:  # every worker finishes; the first failure is reported
                results.append(None)
                first_error = first_error or exc
    if first_error is not None:
        raise first_error
    return results


# --------------------------------------------------------------------------
# Reading.
# --------------------------------------------------------------------------

def actual_from_inspect(attrs: dict[str, Any], service: str | None = None) -> Actual:
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    return Actual(
        service=service or labels.get(LABEL_SERVICE) or attrs["Name"].lstrip("/"),
        container=attrs["Name"].lstrip("/"),
        id=attrs["Id"],
        running=bool((attrs.get("State") or {}).get("Running")),
        spec=spec_from_inspect(attrs),
        config_hash=labels.get(LABEL_HASH),
        image_id=attrs.get("Image"),
        project=labels.get(LABEL_PROJECT),
    )


def inspect(client: Any, container: str) -> dict[str, Any] | None:
    try:
        return client.api.inspect_container(container)
    except Exception as exc:
        if is_not_found(exc):
            return None
        raise translate(exc, f"container {container}") from None


def read_actual(client: Any, services: list[Service], project: str | None, parallel: int
                ) -> tuple[dict[str, Actual], list[Actual], dict[str, dict[str, Any]]]:
    """``(actual by service, project containers no longer declared, inspect data by service)``.

    One listing of all containers finds both the declared names and the
    project's labelled containers; only those are inspected.
    """
    try:
        listing = client.api.containers(all=True)
    except Exception as exc:
        raise translate(exc, "listing containers") from None
    by_name = {}
    for item in listing:
        for name in item.get("Names") or []:
            by_name[name.lstrip("/")] = item
    wanted: dict[str, str] = {s.container: s.name for s in services if s.container in by_name}
    extra: list[str] = []
    if project:
        declared = {s.container for s in services}
        for item in listing:
            labels = item.get("Labels") or {}
            if labels.get(LABEL_PROJECT) == project:
                name = (item.get("Names") or ["/" + item["Id"]])[0].lstrip("/")
                if name not in declared:
                    extra.append(item["Id"])
    targets = list(wanted) + extra
    inspected = parallel_map(lambda c: inspect(client, c), targets, parallel)
    actual: dict[str, Actual] = {}
    raw: dict[str, dict[str, Any]] = {}
    orphans: list[Actual] = []
    for target, attrs in zip(targets, inspected):
        if attrs is None:
            continue
        if target in wanted:
            actual[wanted[target]] = actual_from_inspect(attrs, wanted[target])
            raw[wanted[target]] = attrs
        else:
            orphans.append(actual_from_inspect(attrs))
    return actual, orphans, raw


def image_id(client: Any, image: str) -> str | None:
    try:
        return client.api.inspect_image(image)["Id"]
    except Exception as exc:
        if is_not_found(exc):
            return None
        raise translate(exc, f"image {image}") from None


def resolve_images(client: Any, services: list[Service], parallel: int) -> dict[str, str | None]:
    images = sorted({s.spec["image"] for s in services if s.state != "absent" and s.spec.get("image")})
    return dict(zip(images, parallel_map(lambda i: image_id(client, i), images, parallel)))


def pull_images(client: Any, services: list[Service], image_ids: dict[str, str | None], parallel: int) -> list[str]:
    """Pull what is missing (or ``pull: always``); fail naming the service before any change."""
    users: dict[str, list[Service]] = {}
    for service in services:
        if service.state != "absent" and service.spec.get("image"):
            users.setdefault(service.spec["image"], []).append(service)
    todo = []
    for image, svcs in sorted(users.items()):
        if image_ids.get(image) is None and any(s.pull == "never" for s in svcs):
            name = next(s.name for s in svcs if s.pull == "never")
            raise DockerError(f"service {name}: image: {image!r} is not present and pull is never; build, load or tag it first")
        if image_ids.get(image) is None or any(s.pull == "always" for s in svcs):
            todo.append((image, svcs[0].name))

    def pull(item: tuple[str, str]) -> str | None:
        image, name = item
        repo, _colon, tag = image.rpartition(":") if "@" not in image else (image, "", None)
        try:
            client.api.pull(repo, tag=tag or None)
            new_id = client.api.inspect_image(image)["Id"]
        except Exception as exc:
            detail = translate(exc)
            raise DockerError(f"service {name}: image: {image!r} is not present and cannot be pulled: {detail}") from None
        old_id, image_ids[image] = image_ids.get(image), new_id
        return image if new_id != old_id else None  # pull: always that brought nothing new changes nothing

    return [image for image in parallel_map(pull, todo, parallel) if image]


def existing_resources(client: Any, resources: list[Resource]) -> set[tuple[str, str]]:
    if not resources:
        return set()
    try:
        found = set()
        if any(r.kind == "network" for r in resources):
            found |= {("network", n["Name"]) for n in client.api.networks()}
        if any(r.kind == "volume" for r in resources):
            found |= {("volume", v["Name"]) for v in (client.api.volumes().get("Volumes") or [])}
    except Exception as exc:
        raise translate(exc, "listing networks and volumes") from None
    return found


# --------------------------------------------------------------------------
# Writing.
# --------------------------------------------------------------------------

_LIVE_API = {
    "memory": ("Memory", lambda v: parse_size(v, "memory")),
    "memory_reservation": ("MemoryReservation", lambda v: parse_size(v, "memory_reservation")),
    "memory_swap": ("MemorySwap", lambda v: -1 if v == "unlimited" else parse_size(v, "memory_swap")),
    "cpus": ("NanoCpus", lambda v: cpus_to_nano(parse_cpus(v, "cpus"))),
    "cpu_shares": ("CpuShares", int),
    "cpu_period": ("CpuPeriod", int),
    "cpu_quota": ("CpuQuota", int),
    "cpuset_cpus": ("CpusetCpus", str),
    "cpuset_mems": ("CpusetMems", str),
    "pids_limit": ("PidsLimit", int),
    "blkio_weight": ("BlkioWeight", int),
    "restart_policy": ("RestartPolicy", restart_policy_api),
}


def update_body(changes: list[Any]) -> dict[str, Any]:
    """The ``/containers/{id}/update`` body for a list of live Changes."""
    body = {}
    for change in changes:
        field, convert = _LIVE_API[change.option]
        body[field] = convert(change.after)
    return body


def _size(value: str | None, option: str) -> int | None:
    return parse_size(value, option) if value is not None else None


def create_container(client: Any, service: Service, project: str | None) -> str:
    spec = service.spec
    api = client.api
    exposed, bindings = port_bindings(spec.get("ports"))
    networks = spec.get("networks") or []
    mounts = [{"Type": m["type"], "Source": m["source"], "Target": m["target"], "ReadOnly": m["read_only"]}
              for m in spec.get("mounts") or []]
    swap = spec.get("memory_swap")
    host_config = api.create_host_config(
        port_bindings=bindings or None,
        mounts=mounts or None,
        network_mode=networks[0]["name"] if networks else None,
        restart_policy=restart_policy_api(spec.get("restart_policy")),
        read_only=spec.get("read_only") or None,
        cap_add=spec.get("cap_add"),
        cap_drop=spec.get("cap_drop"),
        security_opt=spec.get("security_opt"),
        init=spec.get("init") or None,
        shm_size=_size(spec.get("shm_size"), "shm_size"),
        mem_limit=_size(spec.get("memory"), "memory"),
        mem_reservation=_size(spec.get("memory_reservation"), "memory_reservation"),
        memswap_limit=-1 if swap == "unlimited" else _size(swap, "memory_swap"),
        nano_cpus=cpus_to_nano(parse_cpus(spec["cpus"], "cpus")) if spec.get("cpus") else None,
        cpu_shares=spec.get("cpu_shares"),
        cpu_period=spec.get("cpu_period"),
        cpu_quota=spec.get("cpu_quota"),
        cpuset_cpus=spec.get("cpuset_cpus"),
        cpuset_mems=spec.get("cpuset_mems"),
        pids_limit=spec.get("pids_limit"),
        blkio_weight=spec.get("blkio_weight"),
        device_read_bps=devices_api(spec.get("device_read_bps"), True),
        device_write_bps=devices_api(spec.get("device_write_bps"), True),
        device_read_iops=devices_api(spec.get("device_read_iops"), False),
        device_write_iops=devices_api(spec.get("device_write_iops"), False),
        ulimits=ulimits_api(spec.get("ulimits")),
        oom_score_adj=spec.get("oom_score_adj"),
    )
    networking = None
    if networks:
        first = networks[0]
        networking = api.create_networking_config(
            {first["name"]: api.create_endpoint_config(aliases=first["aliases"] or None)})
    created = api.create_container(
        spec["image"], command=spec.get("command"), name=service.container, user=spec.get("user"),
        environment=spec.get("env"), entrypoint=spec.get("entrypoint"), working_dir=spec.get("working_dir"),
        labels=labels_for(service, project), ports=exposed or None, host_config=host_config,
        networking_config=networking, healthcheck=healthcheck_api(spec.get("healthcheck")),
    )
    for net in networks[1:]:
        api.connect_container_to_network(created["Id"], net["name"], aliases=net["aliases"] or None)
    return created["Id"]


def remove_container(client: Any, container_id: str, stop_timeout: int, remove_volumes: bool = False) -> None:
    try:
        client.api.stop(container_id, timeout=stop_timeout)
    except Exception as exc:
        if not is_not_found(exc):
            raise
    try:
        client.api.remove_container(container_id, v=remove_volumes, force=True)
    except Exception as exc:
        if not is_not_found(exc):
            raise


def remove_named_volumes(client: Any, actual: Actual) -> None:
    """Named volumes of a removed container (only with remove_volumes: true)."""
    for mount in actual.spec.get("mounts") or []:
        if mount.get("type") == "volume":
            try:
                client.api.remove_volume(mount["source"])
            except Exception as exc:
                if not is_not_found(exc):
                    raise DockerError(f"volume {mount['source']}: remove: {translate(exc)}") from None


def apply_service(client: Any, service: Service | None, actual: Actual | None, actions: list[Any],
                  project: str | None, remove_volumes: bool = False) -> str | None:
    """Run one service's actions in order; return its container Id afterwards (None once deleted)."""
    container_id = actual.id if actual else None
    name = service.name if service else (actual.service if actual else "?")
    for action in actions:
        step = action.kind
        try:
            if step == "create":
                container_id = create_container(client, service, project)
            elif step == "recreate":
                remove_container(client, container_id, service.stop_timeout)
                container_id = create_container(client, service, project)
            elif step == "update_live":
                update_resources(client, container_id, update_body(action.changes))
            elif step == "start":
                client.api.start(container_id)
            elif step == "stop":
                client.api.stop(container_id, timeout=service.stop_timeout)
            elif step == "delete":
                remove_container(client, container_id, service.stop_timeout if service else 10, remove_volumes)
                container_id = None
                if remove_volumes and actual is not None:
                    remove_named_volumes(client, actual)
        except DockerError as exc:
            raise DockerError(f"service {name}: {step}: {exc}") from None
        except Exception as exc:
            raise translate(exc, f"service {name}: {step}") from None
    return container_id


def create_resource(client: Any, resource: Resource, project: str | None) -> None:
    labels = dict(resource.options.get("labels") or {})
    if project:
        labels[LABEL_PROJECT] = project
    try:
        if resource.kind == "network":
            client.api.create_network(resource.name, driver=resource.options.get("driver"),
                                      internal=bool(resource.options.get("internal")), labels=labels)
        else:
            client.api.create_volume(resource.name, driver=resource.options.get("driver"), labels=labels)
    except Exception as exc:
        raise translate(exc, f"{resource.kind} {resource.name}: create") from None


def wait_ready(client: Any, services: list[Service], timeout: float, clock: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], None] = time.sleep) -> None:
    """Wait until every started service is healthy (with a healthcheck) or running (without).

    Raises DockerError naming the services still not ready after ``timeout``
    seconds, with each one's state and its last healthcheck output, or at once
    when a container has exited (it will not become ready by waiting).
    """
    pending = [s for s in services if s.state == "started"]
    deadline = clock() + timeout
    while pending:
        states = {s.name: (inspect(client, s.container) or {}).get("State") or {} for s in pending}
        exited = [n for n, st in states.items() if st and not st.get("Running") and st.get("Status") in ("exited", "dead")]
        pending = [s for s in pending if not _ready(states[s.name])]
        if not pending:
            return
        if exited or clock() >= deadline:
            why = "; ".join(_not_ready(s.name, states[s.name]) for s in pending)
            raise DockerError(f"wait: {'exited' if exited else f'not ready after wait_timeout={timeout:g}s'}: {why}")
        sleep(1.0)


def _ready(state: dict[str, Any]) -> bool:
    health = (state.get("Health") or {}).get("Status")
    return bool(state.get("Running")) and health in (None, "healthy")


def _not_ready(name: str, state: dict[str, Any]) -> str:
    health = state.get("Health") or {}
    last = (health.get("Log") or [{}])[-1]
    output = " ".join(str(last.get("Output") or "").split())[:200]
    detail = f"health {health.get('Status')}" + (f", last check said {output!r}" if output else "") if health else ""
    return f"service {name} is {state.get('Status') or 'missing'}" + (f" ({detail})" if detail else "")


def apply_plan(client: Any, plan: Plan, levels: list[list[Service]], actual: dict[str, Actual], orphans: list[Actual],
               resources: list[Resource], project: str | None, parallel: int, remove_volumes: bool = False,
               wait: Callable[[list[Service]], None] | None = None) -> dict[str, str | None]:
    """Execute ``plan``: resources, then each depends_on wave in parallel, then prunes.

    With ``wait``, a wave's services must be ready before the next wave starts,
    so a service starts only once what it depends on is healthy.
    """
    by_target: dict[str, list[Any]] = {}
    for action in plan.actions:
        by_target.setdefault(action.target, []).append(action)
    wanted = {f"{r.kind}:{r.name}": r for r in resources}
    parallel_map(lambda t: create_resource(client, wanted[t], project), [t for t in by_target if t in wanted], parallel)
    ids: dict[str, str | None] = {}
    for level in levels:
        todo = [s for s in level if s.name in by_target]

        def run(service: Service) -> None:
            ids[service.name] = apply_service(client, service, actual.get(service.name), by_target[service.name],
                                              project, remove_volumes)

        parallel_map(run, todo, parallel)
        if wait is not None:
            wait(level)
    declared = {s.name for level in levels for s in level}
    gone = [o for o in orphans if o.service in by_target and o.service not in declared]

    def prune(old: Actual) -> None:
        ids[old.service] = apply_service(client, None, old, by_target[old.service], project, remove_volumes)

    parallel_map(prune, gone, parallel)
    return ids


# --------------------------------------------------------------------------
# Usage (docker_service_info).
# --------------------------------------------------------------------------

def usage(client: Any, container_id: str, pid: int | None = None) -> dict[str, Any]:
    """One stats sample: memory, CPU % and pids, against the limits.

    Some engines answer with empty stats (seen: dockerd 20.10 on a cgroup v1
    host whose controllers it cannot read).  Then, when the container's main
    process is visible here (a local daemon), the same numbers come from the
    container's own cgroup files; ``source`` says which was used.
    """
    try:
        stats = client.api.stats(container_id, stream=False)
    except Exception as exc:
        raise translate(exc, f"container {container_id[:12]}: stats") from None
    memory = stats.get("memory_stats") or {}
    if "usage" not in memory and pid:
        from_cgroup = cgroup_usage(pid)
        if from_cgroup is not None:
            return from_cgroup
    cpu = stats.get("cpu_stats") or {}
    pre = stats.get("precpu_stats") or {}
    cpu_delta = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (pre.get("cpu_usage") or {}).get("total_usage", 0)
    system_delta = (cpu.get("system_cpu_usage") or 0) - (pre.get("system_cpu_usage") or 0)
    online = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
    cpu_percent = round(cpu_delta / system_delta * online * 100, 2) if system_delta > 0 and cpu_delta >= 0 else 0.0
    cache = (memory.get("stats") or {}).get("cache", 0)
    pids = stats.get("pids_stats") or {}
    return {
        # None, not 0, when the engine reports nothing and no cgroup is readable
        "memory_used": max(memory["usage"] - cache, 0) if "usage" in memory else None,
        "memory_limit": memory.get("limit"),
        "cpu_percent": cpu_percent,
        "pids_used": pids.get("current"),
        "pids_limit": pids.get("limit"),
        "source": "engine" if "usage" in memory else None,
    }


CGROUP_ROOT = "/sys/fs/cgroup"
CPU_SAMPLE_SECONDS = 0.25


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    return None if text in ("", "max") else int(text.split()[0])


def _memory_stat(path: str, key: str) -> int:
    try:
        with open(path) as f:
            for line in f:
                name, _sep, value = line.partition(" ")
                if name == key:
                    return int(value)
    except OSError:
        pass
    return 0


def cgroup_paths(pid: int, proc: str = "/proc") -> dict[str, str]:
    """Controller -> the process's cgroup directory, for cgroup v1 and v2 (key "")."""
    paths: dict[str, str] = {}
    try:
        with open(f"{proc}/{pid}/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return paths
    for line in lines:
        _hierarchy, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            controller = controller.replace("name=", "")
            paths[controller] = os.path.join(CGROUP_ROOT, controller, path.lstrip("/")) if controller else os.path.join(CGROUP_ROOT, path.lstrip("/"))
    return paths


def _cpu_ns(kind: str, path: str) -> int | None:
    """CPU time used so far, in ns: cpuacct.usage (v1) or cpu.stat's usage_usec (v2)."""
    if kind == "v1":
        return _read_int(path)
    usec = _memory_stat(path, "usage_usec")
    return usec * 1000 if usec else None


def cgroup_usage(pid: int, proc: str = "/proc") -> dict[str, Any] | None:
    """Memory (less page cache), CPU % over a short sample, and pids, from cgroup files."""
    paths = cgroup_paths(pid, proc)
    if "memory" in paths:  # cgroup v1
        mem_dir, pids_dir = paths["memory"], paths.get("pids", "")
        kind, cpu_file = "v1", os.path.join(paths.get("cpuacct", ""), "cpuacct.usage")
        used = _read_int(os.path.join(mem_dir, "memory.usage_in_bytes"))
        if used is not None:
            used -= _memory_stat(os.path.join(mem_dir, "memory.stat"), "total_cache")
        limit = _read_int(os.path.join(mem_dir, "memory.limit_in_bytes"))
    elif "" in paths:  # cgroup v2
        mem_dir = pids_dir = paths[""]
        kind, cpu_file = "v2", os.path.join(mem_dir, "cpu.stat")
        used = _read_int(os.path.join(mem_dir, "memory.current"))
        if used is not None:
            used -= _memory_stat(os.path.join(mem_dir, "memory.stat"), "file")
        limit = _read_int(os.path.join(mem_dir, "memory.max"))
    else:
        return None
    if used is None:
        return None
    first, started = _cpu_ns(kind, cpu_file), time.monotonic()
    time.sleep(CPU_SAMPLE_SECONDS)
    second, elapsed = _cpu_ns(kind, cpu_file), time.monotonic() - started
    cpu_percent = round((second - first) / (elapsed * 1e9) * 100, 2) if first is not None and second is not None and elapsed > 0 else 0.0
    return {
        "memory_used": max(used, 0),
        "memory_limit": limit,
        "cpu_percent": max(cpu_percent, 0.0),
        "pids_used": _read_int(os.path.join(pids_dir, "pids.current")) if pids_dir else None,
        "pids_limit": _read_int(os.path.join(pids_dir, "pids.max")) if pids_dir else None,
        "source": "cgroup",
    }
