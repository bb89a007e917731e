# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A hypervisor's capacity and the budget its guests must fit in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.hyperdock.platform.plugins.module_utils import _libvirt as backend
from ansible_collections.hyperdock.platform.plugins.module_utils._units import LimitError, format_size, parse_size

MIB = 1024 * 1024

# The options that set a guest budget (doc fragment hyperdock.platform.budget).
BUDGET_ARGS: dict[str, dict[str, Any]] = {
    "reserved_memory": {"type": "str", "default": "0"},
    "reserved_cpus": {"type": "int", "default": 0},
    "cpu_overcommit": {"type": "float", "default": 1.0},
    "memory_overcommit": {"type": "float", "default": 1.0},
}


@dataclass
class Budget:
    cpus: int
    memory_bytes: int


def compute_budget(cpus: int, memory_bytes: int, reserved_cpus: int, reserved_memory: int,
                   cpu_overcommit: float, memory_overcommit: float) -> Budget:
    """(host - reserved) x overcommit, never below zero, in whole vCPUs and whole MiB."""
    memory = max(0, int((memory_bytes - reserved_memory) * memory_overcommit))
    return Budget(cpus=max(0, int((cpus - reserved_cpus) * cpu_overcommit)), memory_bytes=memory - memory % MIB)


def signed_size(number: int) -> str:
    return ("-" + str(format_size(-number))) if number < 0 else str(format_size(number))


def version_text(number: int) -> str:
    """libvirt's packed version (major * 1e6 + minor * 1e3 + micro) as ``9.0.0``."""
    return f"{number // 1000000}.{number // 1000 % 1000}.{number % 1000}"


def validate_options(params: dict[str, Any]) -> int:
    """Check the budget options; return reserved_memory in bytes.  Raises LimitError."""
    reserved = parse_size(params["reserved_memory"], "reserved_memory")
    if params["reserved_cpus"] < 0:
        raise LimitError("reserved_cpus", params["reserved_cpus"], "a whole number of CPUs, at least 0")
    for option in ("cpu_overcommit", "memory_overcommit"):
        if params[option] <= 0:
            raise LimitError(option, params[option], "a ratio greater than 0, such as 1.0 or 1.5")
    return reserved


@dataclass
class Allocation:
    """What one guest takes of a budget: its ceilings (max vCPUs, max memory),
    so a budget holds whatever it is later hot-plugged or ballooned to."""

    name: str
    vcpus: int
    memory_bytes: int
    running: bool = False


def read_allocations(conn: Any) -> list[Allocation]:
    lv = backend.libvirt
    result = []
    for dom in conn.listAllDomains(0):
        state, max_kib, _cur_kib, _vcpus, _time = dom.info()
        result.append(Allocation(
            name=dom.name(),
            vcpus=dom.vcpusFlags(lv.VIR_DOMAIN_VCPU_MAXIMUM | lv.VIR_DOMAIN_AFFECT_CONFIG),
            memory_bytes=max_kib * 1024,
            running=state in (lv.VIR_DOMAIN_RUNNING, lv.VIR_DOMAIN_PAUSED, lv.VIR_DOMAIN_BLOCKED),
        ))
    return sorted(result, key=lambda a: a.name)


def _summary(allocations: list[Allocation]) -> dict[str, Any]:
    memory = sum(a.memory_bytes for a in allocations)
    return {"defined": len(allocations), "running": sum(a.running for a in allocations),
            "names": [a.name for a in allocations], "vcpus": sum(a.vcpus for a in allocations),
            "memory": format_size(memory), "memory_bytes": memory}


def _accelerator(conn: Any, driver: str, probe_kvm: bool) -> tuple[str, str]:
    if driver == "qemu":
        # The same answer the guest module acts on: probed once per host boot.
        probe = backend.kvm_usable_cached if probe_kvm else (lambda: backend.kvm_usable(boot=False))
        choice = backend.choose_hypervisor(conn, "auto", kvm_probe=probe)
        return ("tcg" if choice.domain_type == "qemu" else choice.domain_type), choice.reason
    if driver in ("xen", "libxl"):
        return "xen", f"the connection {conn.getURI()} is the libxl (Xen) driver"
    return driver, f"the connection {conn.getURI()} is libvirt's {driver} driver"


def host_memory_bytes(conn: Any) -> int:
    """The host's memory.  nodeinfo's figure comes from the NUMA cells and can be
    far below the real total in a VM (seen: 6.7G of 24G), so prefer the total
    of the node memory stats, as /proc/meminfo has it."""
    try:
        return int(conn.getMemoryStats(backend.libvirt.VIR_NODE_MEMORY_STATS_ALL_CELLS)["total"]) * 1024
    except (KeyError, AttributeError, TypeError) as exc:  # drivers without memory stats (test://, some Xen)
        del exc
    except Exception as exc:
        if not backend.is_libvirt_error(exc):
            raise
    return conn.getInfo()[1] * 1024 * 1024


def hypervisor_facts(conn: Any, params: dict[str, Any], reserved_memory: int) -> dict[str, Any]:
    uri = conn.getURI()
    driver = backend.driver_of(uri)
    cpus = conn.getInfo()[2]
    memory_bytes = host_memory_bytes(conn)
    accelerator, reason = _accelerator(conn, driver, params["probe_kvm"])
    guests = _summary(read_allocations(conn))
    budget = compute_budget(cpus, memory_bytes, params["reserved_cpus"], reserved_memory,
                            params["cpu_overcommit"], params["memory_overcommit"])
    free_memory = budget.memory_bytes - guests["memory_bytes"]
    return {
        "uri": uri,
        "hostname": conn.getHostname(),
        "driver": driver,
        "libvirt_version": version_text(conn.getLibVersion()),
        "hypervisor_version": version_text(conn.getVersion()),
        "cpus": cpus,
        "memory": format_size(memory_bytes),
        "memory_bytes": memory_bytes,
        "accelerator": accelerator,
        "accelerator_reason": reason,
        "guests": guests,
        "budget": {
            "cpus": budget.cpus,
            "memory": format_size(budget.memory_bytes),
            "memory_bytes": budget.memory_bytes,
            "reserved_memory": format_size(reserved_memory),
            "reserved_cpus": params["reserved_cpus"],
            "cpu_overcommit": params["cpu_overcommit"],
            "memory_overcommit": params["memory_overcommit"],
        },
        "free": {"cpus": budget.cpus - guests["vcpus"], "memory": signed_size(free_memory), "memory_bytes": free_memory},
    }


def run_hypervisor_info(module: Any) -> None:
    try:
        reserved = validate_options(module.params)
    except LimitError as exc:
        module.fail_json(msg=str(exc))
    conn = backend.open_for(module)
    try:
        facts = hypervisor_facts(conn, module.params, reserved)
    except Exception as exc:  # a libvirt error at the edge: report it, never a traceback
        if not backend.is_libvirt_error(exc):
            raise
        module.fail_json(msg=f"uri: {module.params['uri']!r}: {backend.error_text(exc)}")
    finally:
        conn.close()
    module.exit_json(changed=False, hypervisor=facts)


def planned_allocations(guests: list[dict[str, Any]]) -> list[Allocation]:
    """The ceilings of the guests a play is about to define.  Raises LimitError."""
    result = []
    for index, guest in enumerate(guests):
        name = guest.get("name")
        if not name:
            raise LimitError(f"guests[{index}].name", name, "the guest's name")
        vcpus = guest.get("max_vcpus") or guest.get("vcpus")
        memory = guest.get("max_memory") or guest.get("memory")
        if vcpus is None or memory is None:
            raise LimitError(f"guests[{name}]", guest, "vcpus (or max_vcpus) and memory (or max_memory)")
        try:
            vcpus = int(vcpus)
        except (TypeError, ValueError):
            raise LimitError(f"guests[{name}].vcpus", vcpus, "a whole number of vCPUs") from None
        result.append(Allocation(name, vcpus, parse_size(memory, f"guests[{name}].memory", minimum=1)))
    return result


def check_budget(existing: list[Allocation], planned: list[Allocation], budget: Budget,
                 where: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The guests that will share ``budget`` and, if they do not fit, why.

    A planned guest replaces a defined one of the same name (it is being
    changed, not added).  Returns (members, problems); no problems means it fits.
    """
    planned_names = {a.name for a in planned}
    members = [(a, "defined") for a in existing if a.name not in planned_names] + [(a, "planned") for a in planned]
    view = [{"name": a.name, "vcpus": a.vcpus, "memory": format_size(a.memory_bytes), "source": src} for a, src in members]
    problems = []
    total_cpus = sum(a.vcpus for a, _src in members)
    total_memory = sum(a.memory_bytes for a, _src in members)
    if total_memory > budget.memory_bytes:
        parts = ", ".join(f"{a.name} {format_size(a.memory_bytes)} ({src})" for a, src in members)
        problems.append(f"memory: the guests need {format_size(total_memory)} ({parts}) but the budget is {format_size(budget.memory_bytes)}")
    if total_cpus > budget.cpus:
        parts = ", ".join(f"{a.name} {a.vcpus} ({src})" for a, src in members)
        problems.append(f"vcpus: the guests need {total_cpus} ({parts}) but the budget is {budget.cpus}")
    return view, [f"guest budget of hypervisor {where} exceeded: {p}" for p in problems]


def run_guest_budget(module: Any) -> None:
    params = module.params
    try:
        reserved = validate_options(params)
        planned = planned_allocations(params["guests"])
    except LimitError as exc:
        module.fail_json(msg=str(exc))
    conn = backend.open_for(module)
    try:
        cpus = conn.getInfo()[2]
        memory = host_memory_bytes(conn)
        existing = read_allocations(conn)
        where = f"{conn.getHostname()} ({conn.getURI()})"
    except Exception as exc:
        if not backend.is_libvirt_error(exc):
            raise
        module.fail_json(msg=f"uri: {params['uri']!r}: {backend.error_text(exc)}")
    finally:
        conn.close()
    budget = compute_budget(cpus, memory, params["reserved_cpus"], reserved, params["cpu_overcommit"], params["memory_overcommit"])
    members, problems = check_budget(existing, planned, budget, where)
    result = {
        "changed": False,
        "fits": not problems,
        "budget": {"cpus": budget.cpus, "memory": format_size(budget.memory_bytes), "host_cpus": cpus,
                   "host_memory": format_size(memory), "reserved_memory": format_size(reserved),
                   "reserved_cpus": params["reserved_cpus"], "cpu_overcommit": params["cpu_overcommit"],
                   "memory_overcommit": params["memory_overcommit"]},
        "guests": members,
        "total": {"vcpus": sum(m["vcpus"] for m in members),
                  "memory": format_size(sum(parse_size(m["memory"], "memory") for m in members))},
    }
    if problems:
        module.fail_json(msg="; ".join(problems), **{k: v for k, v in result.items() if k != "changed"})
    module.exit_json(**result)
