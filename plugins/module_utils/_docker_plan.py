# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure planner for Docker services.

Given the declared services and what the daemon has (read beforehand), it
returns a :class:`Plan` of ``create``, ``update_live``, ``recreate``,
``start``, ``stop`` and ``delete`` actions, each with the changes and the
reason.  It also orders services by ``depends_on`` and checks the budget.
Nothing here talks to Docker, so every decision is unit-tested without one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ansible_collections.hyperdock.platform.plugins.module_utils._docker_spec import (
    LIVE_OPTIONS,
    RECREATE_OPTIONS,
    Service,
    SpecError,
    host_ports,
    nano_cpus_of,
)
from ansible_collections.hyperdock.platform.plugins.module_utils._plan import Change, Plan, changes_between
from ansible_collections.hyperdock.platform.plugins.module_utils._units import (
    format_cpus,
    format_size,
    parse_size,
)

RECREATE_REASON = "only a recreate can change: "


@dataclass
class Actual:
    """A container as the daemon has it, already read into the module vocabulary."""

    service: str
    container: str
    id: str
    running: bool
    spec: dict[str, Any]
    config_hash: str | None = None
    image_id: str | None = None
    project: str | None = None


@dataclass
class Resource:
    """A network or volume to create (``kind`` is ``network`` or ``volume``)."""

    kind: str
    name: str
    options: dict[str, Any] = field(default_factory=dict)


def topological_levels(services: list[Service]) -> list[list[Service]]:
    """Services in waves: every service comes after all it depends on.

    Raises :class:`SpecError` for an unknown dependency or a cycle, naming it.
    """
    by_name = {s.name: s for s in services}
    for service in services:
        for dep in service.depends_on:
            if dep not in by_name:
                raise SpecError(f"service {service.name}: depends_on: {dep!r} is not a declared service; "
                                f"expected one of {', '.join(sorted(by_name))}")
            if dep == service.name:
                raise SpecError(f"service {service.name}: depends_on: {dep!r} is the service itself")
    done: set[str] = set()
    levels: list[list[Service]] = []
    remaining = dict(by_name)
    while remaining:
        ready = [s for s in remaining.values() if all(d in done for d in s.depends_on)]
        if not ready:
            raise SpecError("depends_on: the services " + _cycle(remaining) + " form a cycle")
        ready.sort(key=lambda s: s.name)
        levels.append(ready)
        for service in ready:
            done.add(service.name)
            del remaining[service.name]
    return levels


def _cycle(remaining: dict[str, Service]) -> str:
    """One cycle among services none of which can start, as ``a -> b -> a``."""
    start = sorted(remaining)[0]
    path = [start]
    node = start
    while True:
        node = sorted(d for d in remaining[node].depends_on if d in remaining)[0]
        if node in path:
            loop = [*path[path.index(node):], node]
            return " -> ".join(loop)
        path.append(node)


def check_ports(services: list[Service]) -> None:
    """No host port published by two services (or twice by one)."""
    owners: dict[tuple[str, int, str], str] = {}
    for service in services:
        if service.state == "absent":
            continue
        for key in host_ports(service.spec.get("ports")):
            wildcard = [k for k in owners if k[1:] == key[1:] and "0.0.0.0" in (k[0], key[0])]
            clash = owners.get(key) or (owners[wildcard[0]] if wildcard else None)
            if clash:
                raise SpecError(f"service {service.name}: ports: host port {key[1]}/{key[2]} is already published by "
                                f"service {clash}; expected each host port taken once")
            owners[key] = service.name


def check_budget(services: list[Service], budget: dict[str, Any], require_limits: bool,
                 others: dict[str, dict[str, int]] | None = None, where: str | None = None) -> dict[str, Any]:
    """Refuse a set of services over the budget; return the sums as a report.

    ``where`` names the budget's owner (such as ``Docker host web1 (project shop)``)
    in a refusal, as the guest layer names its hypervisor.

    ``budget`` has ``memory`` (bytes), ``cpus`` (NanoCpus) and ``pids``, each
    ``None`` for no limit.  With ``require_limits``, every service must set
    ``memory``, ``cpus`` (or ``cpu_quota``) and ``pids_limit``.  ``others`` are
    running containers outside the project (name -> memory, cpus, pids): they
    share the host, so they count too, named ``other:<name>``.
    """
    active = [s for s in services if s.state != "absent"]
    if require_limits:
        for service in active:
            missing = [o for o, ok in (("memory", service.spec.get("memory")), ("cpus", nano_cpus_of(service.spec)),
                                       ("pids_limit", (service.spec.get("pids_limit") or 0) > 0)) if not ok]
            if missing:
                raise SpecError(f"service {service.name}: {', '.join(missing)} not set; require_limits is true, so every "
                                "service needs a memory, cpus and pids_limit limit")
    parts = {
        "memory": {s.name: parse_size(s.spec["memory"], "memory") for s in active if s.spec.get("memory")},
        "cpus": {s.name: nano_cpus_of(s.spec) for s in active if nano_cpus_of(s.spec)},
        "pids": {s.name: s.spec["pids_limit"] for s in active if (s.spec.get("pids_limit") or 0) > 0},
    }
    for name, limits in (others or {}).items():
        for key in parts:
            if limits.get(key):
                parts[key][f"other:{name}"] = limits[key]
    show = {"memory": format_size, "cpus": format_cpus, "pids": str}
    report: dict[str, Any] = {}
    for key, values in parts.items():
        total = sum(values.values())
        limit = budget.get(key)
        report[key] = {"used": show[key](total) if total else "0", "budget": show[key](limit) if limit else None}
        if limit is not None and total > limit:
            members = ", ".join(f"{name} {show[key](value)}" for name, value in sorted(values.items()))
            layer = f"service budget of {where} exceeded; " if where else ""
            raise SpecError(f"{layer}budget: {key} {show[key](limit)} is exceeded: the services sum to {show[key](total)} "
                            f"({members}); lower their limits or raise budget.{key}/overcommit")
    return report


def _view(spec: dict[str, Any], state: str) -> dict[str, Any]:
    view = {k: v for k, v in spec.items() if v is not None and v is not False}
    view["state"] = state
    return view


def _actual_state(actual: Actual) -> str:
    return "started" if actual.running else "stopped"


def _recreate_changes(actual: Actual, service: Service, image_id: str | None) -> list[Change]:
    changes: list[Change] = []
    if actual.config_hash != service.config_hash:
        changes = [Change(k, actual.spec.get(k), service.spec.get(k)) for k in RECREATE_OPTIONS
                   if actual.spec.get(k) != service.spec.get(k)]
        if not changes:
            changes = [Change("config_hash", actual.config_hash, service.config_hash)]
    if image_id and actual.image_id and image_id != actual.image_id and not any(c.option == "image" for c in changes):
        changes.append(Change("image_id", actual.image_id[:19], image_id[:19]))
    # The engine cannot switch a running container between cpus (NanoCpus) and
    # cpu_quota: each update is refused while the other is set.
    if service.spec.get("cpus") and actual.spec.get("cpu_quota"):
        changes.append(Change("cpu_quota", actual.spec["cpu_quota"], None))
    elif service.spec.get("cpu_quota") and actual.spec.get("cpus"):
        changes.append(Change("cpus", actual.spec["cpus"], None))
    return changes


def _swap_follow(actual: Actual, service: Service, live: list[Change]) -> list[Change]:
    """When memory changes and memory_swap is not declared, swap follows as at create (2x memory).

    The engine refuses a memory limit above the current memory+swap limit, and
    a recreate would give 2x memory too, so both paths end equal.
    """
    memory = next((c for c in live if c.option == "memory"), None)
    if memory is None or service.spec.get("memory_swap") is not None:
        return live
    before = actual.spec.get("memory_swap")
    if before == "unlimited":
        return live
    after = format_size(2 * parse_size(memory.after, "memory"))
    if before != after:
        live.append(Change("memory_swap", before, after))
    return live


def plan_services(services: list[Service], actual: dict[str, Actual], image_ids: dict[str, str | None] | None = None,
                  prune: list[Actual] | None = None, resources: list[Resource] | None = None,
                  existing_resources: set[tuple[str, str]] | None = None) -> Plan:
    """The plan that brings ``actual`` (by service name) to ``services``.

    ``image_ids`` maps each image reference to the local image Id it resolves
    to now (None when it must be pulled).  ``prune`` lists containers of the
    project that are no longer declared.  ``resources`` are networks and
    volumes to create unless in ``existing_resources``.
    """
    image_ids = image_ids or {}
    plan = Plan()
    for resource in resources or []:
        if (resource.kind, resource.name) not in (existing_resources or set()):
            plan.add("create", f"{resource.kind}:{resource.name}", reason=f"{resource.kind} does not exist")
    for level in topological_levels(services):
        for service in level:
            _plan_one(plan, service, actual.get(service.name), image_ids.get(service.spec.get("image") or ""))
    for old in prune or []:
        plan.add("delete", old.service, reason="no longer declared in the project (prune)")
        plan.before[old.service] = _view(old.spec, _actual_state(old))
        plan.after[old.service] = {"state": "absent"}
    return plan


def _plan_one(plan: Plan, service: Service, actual: Actual | None, image_id: str | None) -> None:
    name = service.name
    if service.state == "absent":
        if actual is not None:
            plan.add("delete", name, reason="state is absent")
            plan.before[name] = _view(actual.spec, _actual_state(actual))
            plan.after[name] = {"state": "absent"}
        return
    # started: run it; stopped: do not; present: create without starting, leave a running one running.
    want = {"started": True, "stopped": False}.get(service.state)
    if actual is None:
        plan.add("create", name, reason="container does not exist")
        if want:
            plan.add("start", name)
        plan.before[name] = {"state": "absent"}
        plan.after[name] = _view(service.spec, "started" if want else "stopped")
        return
    running_after = actual.running if want is None else want
    state_after = "started" if running_after else "stopped"
    before = _view(actual.spec, _actual_state(actual))
    recreate = _recreate_changes(actual, service, image_id)
    if recreate:
        live = [Change(c.option, c.before, c.after) for c in changes_between(actual.spec, service.spec, LIVE_OPTIONS)]
        plan.add("recreate", name, recreate + live, reason=RECREATE_REASON + ", ".join(c.option for c in recreate))
        if running_after:
            plan.add("start", name)
        plan.before[name], plan.after[name] = before, _view(service.spec, state_after)
        return
    live = _swap_follow(actual, service, changes_between(actual.spec, service.spec, LIVE_OPTIONS))
    if live:
        plan.add("update_live", name, live, reason="limits change on the running container, without a restart")
    if running_after and not actual.running:
        plan.add("start", name, [Change("state", "stopped", "started")])
    elif not running_after and actual.running:
        plan.add("stop", name, [Change("state", "started", "stopped")])
    if live or running_after != actual.running:
        after = dict(actual.spec, **{c.option: c.after for c in live})
        plan.before[name], plan.after[name] = before, _view(after, state_after)


def recreated_because(plan: Plan) -> dict[str, list[str]]:
    """For each recreated service, the options that forced the recreate."""
    return {a.target: a.reason[len(RECREATE_REASON):].split(", ") for a in plan.of_kind("recreate")}
