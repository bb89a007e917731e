# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guest planner: desired options + actual domain -> a Plan.  Pure: no libvirt here.

:func:`parse_request` turns module parameters into a typed :class:`GuestRequest`
(every size and CPU value through ``_units``, so ``2X`` fails naming the
option).  :func:`plan_guest` compares the request with what libvirt reported,
after both went through the same normalisation, and returns a
:class:`GuestPlan`: the :class:`Plan` that check mode and ``--diff`` report,
plus the target spec the applier writes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.hyperdock.platform.plugins.module_utils._libvirt_domain import (
    BYTE_IOTUNE_KEYS,
    IOTUNE_KEYS,
    Disk,
    DomainSpec,
    Interface,
    copy_spec,
    default_target,
    machine_matches,
    stable_mac,
    view,
)
from ansible_collections.hyperdock.platform.plugins.module_utils._plan import Change, Plan
from ansible_collections.hyperdock.platform.plugins.module_utils._units import (
    LimitError,
    format_cpuset,
    format_size,
    parse_cpuset,
    parse_int,
    parse_size,
)

# Options libvirt can change on a running guest (each also persisted).
LIVE_OPTIONS = ("vcpus", "memory", "cpu_shares", "cpu_quota", "cpu_period", "cpu_pinning", "memory_hard_limit",
                "memory_soft_limit", "swap_hard_limit", "blkio_weight", "labels")
COMPARED = ("hypervisor", "xen_mode", "vcpus", "max_vcpus", "memory", "max_memory", "cpu_mode", "cpu_model",
            "machine", "firmware", "kernel", "initrd", "cmdline", "bootloader", "cpu_shares", "cpu_quota",
            "cpu_period", "cpu_pinning", "memory_hard_limit", "memory_soft_limit", "swap_hard_limit",
            "blkio_weight", "disks", "interfaces", "labels")
LABEL_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
LABEL_NAME_HINT = "label names made of letters, digits, '_', '.' and '-', such as role or app.tier"
# XML 1.0 cannot hold most control characters, and turns a carriage return into a line feed.
LABEL_VALUE_BAD = re.compile(r"[\x00-\x08\x0b-\x1f]")
LABEL_VALUE_HINT = "a string (quote numbers and booleans in YAML), without control characters other than tab and newline"
MIN_MEMORY = 16 * 1024 ** 2
SEED_FILES = ("user-data", "meta-data", "network-config")


@dataclass
class DiskRequest:
    disk: Disk
    size: int | None = None
    base_image: str | None = None
    index: int = 0
    iotune_given: bool = False


@dataclass
class GuestRequest:
    name: str
    state: str = "present"
    apply: str = "live"
    hypervisor: str = "auto"
    xen_mode: str | None = None
    vcpus: int | None = None
    max_vcpus: int | None = None
    memory: int | None = None
    max_memory: int | None = None
    cpu_mode: str | None = None
    cpu_model: str | None = None
    machine: str | None = None
    firmware: str | None = None
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str | None = None
    bootloader: str | None = None
    autostart: bool | None = None
    disks: list[DiskRequest] | None = None
    interfaces: list[Interface] | None = None
    seed: dict[str, str] | None = None
    seed_path: str | None = None
    cpu_shares: int | None = None
    cpu_quota: int | None = None
    cpu_period: int | None = None
    cpu_pinning: dict[int, str] | None = None
    memory_hard_limit: int | None = None
    memory_soft_limit: int | None = None
    swap_hard_limit: int | None = None
    blkio_weight: int | None = None
    labels: dict[str, str] | None = None
    xml: str | None = None


@dataclass
class Actual:
    """What the backend read: persistent and live domain, run state, volumes and seed."""

    inactive: DomainSpec | None = None
    live: DomainSpec | None = None
    state: str = "absent"  # absent, shutoff, running, paused
    autostart: bool = False
    volumes: dict[str, int | None] = field(default_factory=dict)  # "pool/volume" or path -> capacity, None if missing
    seed: dict[str, str] | None = None
    overlay_xml: str | None = None  # the target XML with the overlay applied, rendered by the backend


@dataclass
class GuestPlan:
    plan: Plan
    target: DomainSpec | None
    autostart: bool | None = None
    applied_live: list[str] = field(default_factory=list)
    pending_reboot: list[str] = field(default_factory=list)
    new_volumes: list[DiskRequest] = field(default_factory=list)
    resizes: list[tuple[DiskRequest, int]] = field(default_factory=list)
    seed: dict[str, str] | None = None


# ---------------------------------------------------------------- request


def _opt_size(params: dict[str, Any], option: str, minimum: int = 0) -> int | None:
    value = params.get(option)
    return None if value is None else parse_size(value, option, minimum)


def _opt_int(params: dict[str, Any], option: str, minimum: int | None = None, maximum: int | None = None) -> int | None:
    value = params.get(option)
    return None if value is None else parse_int(value, option, minimum, maximum)


def parse_request(params: dict[str, Any]) -> GuestRequest:
    """Module parameters -> :class:`GuestRequest`; raises :class:`LimitError` naming the option."""
    req = GuestRequest(name=params["name"])
    for key in ("state", "apply", "hypervisor", "xen_mode", "cpu_mode", "cpu_model", "machine", "firmware", "kernel",
                "initrd", "cmdline", "bootloader", "autostart", "xml"):
        if params.get(key) is not None:
            setattr(req, key, params[key])
    req.vcpus = _opt_int(params, "vcpus", 1, 4096)
    req.max_vcpus = _opt_int(params, "max_vcpus", 1, 4096)
    req.memory = _opt_size(params, "memory", MIN_MEMORY)
    req.max_memory = _opt_size(params, "max_memory", MIN_MEMORY)
    req.cpu_shares = _opt_int(params, "cpu_shares", 2, 262144)
    req.cpu_period = _opt_int(params, "cpu_period", 1000, 1000000)
    req.cpu_quota = _opt_int(params, "cpu_quota", -1, 17592186044415)
    req.memory_hard_limit = _opt_size(params, "memory_hard_limit", MIN_MEMORY)
    req.memory_soft_limit = _opt_size(params, "memory_soft_limit", MIN_MEMORY)
    req.swap_hard_limit = _opt_size(params, "swap_hard_limit", MIN_MEMORY)
    req.blkio_weight = _opt_int(params, "blkio_weight", 100, 1000)
    if req.cpu_quota is not None and 0 <= req.cpu_quota < 1000:
        raise LimitError("cpu_quota", params["cpu_quota"], "-1 (no quota) or microseconds from 1000 up")
    if params.get("cpu_pinning") is not None:
        pinning = params["cpu_pinning"]
        if not isinstance(pinning, dict):
            raise LimitError("cpu_pinning", pinning, "a mapping of vCPU number to host cpuset, such as {0: '0-1'}")
        req.cpu_pinning = {}
        for vcpu, cpuset in pinning.items():
            number = parse_int(vcpu, "cpu_pinning", 0, 4095)
            req.cpu_pinning[number] = format_cpuset(parse_cpuset(cpuset, f"cpu_pinning.{vcpu}")) or ""
    _check_limits(req, params)
    if params.get("labels") is not None:
        req.labels = parse_labels(params["labels"])
    if params.get("disks") is not None:
        req.disks = [_parse_disk(d, i) for i, d in enumerate(params["disks"])]
    if params.get("interfaces") is not None:
        req.interfaces = [_parse_interface(n, i) for i, n in enumerate(params["interfaces"])]
    cloud_init = params.get("cloud_init")
    if cloud_init is not None:
        req.seed = seed_files(req.name, cloud_init)
        req.seed_path = cloud_init.get("path")
    return req


def parse_labels(labels: object, option: str = "labels") -> dict[str, str]:
    """Validated guest labels: names as LABEL_NAME_RE, values strings XML can hold."""
    if not isinstance(labels, dict):
        raise LimitError(option, labels, "a mapping of label name to string, such as {role: docker}")
    for name, value in labels.items():
        if not isinstance(name, str) or not LABEL_NAME_RE.match(name):
            raise LimitError(option, {name: value}, LABEL_NAME_HINT)
        if not isinstance(value, str) or LABEL_VALUE_BAD.search(value):
            raise LimitError(f"{option}.{name}", value, LABEL_VALUE_HINT)
    return dict(labels)


def _check_limits(req: GuestRequest, params: dict[str, Any]) -> None:
    if req.vcpus and req.max_vcpus and req.vcpus > req.max_vcpus:
        raise LimitError("vcpus", params["vcpus"], f"at most max_vcpus ({req.max_vcpus})")
    if req.memory and req.max_memory and req.memory > req.max_memory:
        raise LimitError("memory", params["memory"], f"at most max_memory ({format_size(req.max_memory)})")
    floor = req.max_memory or req.memory
    for option in ("memory_hard_limit", "memory_soft_limit"):
        value = getattr(req, option)
        if value is not None and floor is not None and value < floor:
            raise LimitError(option, params[option], f"at least the guest's memory ({format_size(floor)})")
    if req.swap_hard_limit is not None and req.memory_hard_limit is not None and req.swap_hard_limit < req.memory_hard_limit:
        raise LimitError("swap_hard_limit", params["swap_hard_limit"],
                         f"at least memory_hard_limit ({format_size(req.memory_hard_limit)})")


def _parse_disk(item: dict[str, Any], index: int) -> DiskRequest:
    option = f"disks[{index}]"
    disk = Disk(target=item.get("target"), path=item.get("path"), pool=item.get("pool"), volume=item.get("volume"),
                format=item.get("format"), bus=item.get("bus"), cache=item.get("cache"),
                device=item.get("device") or "disk", readonly=bool(item.get("readonly")))
    if bool(disk.path) == bool(disk.pool and disk.volume):
        raise LimitError(option, item, "either path, or pool and volume")
    iotune = item.get("iotune") or {}
    unknown = sorted(set(iotune) - set(IOTUNE_KEYS))
    if unknown:
        raise LimitError(f"{option}.iotune", iotune, "keys among " + ", ".join(IOTUNE_KEYS))
    for key, value in iotune.items():
        if value is None:
            continue
        number = parse_size(value, f"{option}.iotune.{key}") if key in BYTE_IOTUNE_KEYS else parse_int(value, f"{option}.iotune.{key}", 0)
        if number:
            disk.iotune[key] = number
    req = DiskRequest(disk=disk, index=index, base_image=item.get("base_image"), iotune_given=item.get("iotune") is not None)
    req.size = None if item.get("size") is None else parse_size(item["size"], f"{option}.size", 1024 ** 2)
    if disk.format is None and (req.size or req.base_image):
        disk.format = "qcow2"
    return req


def _parse_interface(item: dict[str, Any], index: int) -> Interface:
    option = f"interfaces[{index}]"
    if bool(item.get("network")) == bool(item.get("bridge")):
        raise LimitError(option, item, "exactly one of network or bridge")
    mac = item.get("mac")
    if mac is not None:
        parts = str(mac).lower().split(":")
        if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdef" for c in p) for p in parts):
            raise LimitError(f"{option}.mac", mac, "a MAC address such as 52:54:00:12:34:56")
        mac = ":".join(parts)
    return Interface(network=item.get("network"), bridge=item.get("bridge"), mac=mac, model=item.get("model"))


def seed_files(name: str, cloud_init: dict[str, Any]) -> dict[str, str]:
    """The NoCloud seed's files, as text: what the ISO holds and what the planner compares."""
    import json

    meta = cloud_init.get("meta_data")
    if meta is None:
        meta = {"instance-id": name, "local-hostname": name}
    user = cloud_init.get("user_data")
    keys = cloud_init.get("ssh_authorized_keys") or []
    if user is None:
        user = {}
    if isinstance(user, dict):
        user = dict(user)
        if keys:
            user["ssh_authorized_keys"] = list(user.get("ssh_authorized_keys", [])) + list(keys)
        user_text = "#cloud-config\n" + json.dumps(user, indent=2, sort_keys=True) + "\n"
    else:
        if keys:
            raise LimitError("cloud_init.ssh_authorized_keys", keys, "to be used with user_data given as a mapping, not text")
        user_text = str(user)
    files = {"user-data": user_text,
             "meta-data": meta if isinstance(meta, str) else json.dumps(meta, indent=2, sort_keys=True) + "\n"}
    net = cloud_init.get("network_config")
    if net is not None:
        files["network-config"] = net if isinstance(net, str) else json.dumps(net, indent=2, sort_keys=True) + "\n"
    return files


def seed_digest(files: dict[str, str] | None) -> dict[str, str] | None:
    if files is None:
        return None
    return {k: "sha256:" + hashlib.sha256(v.encode()).hexdigest()[:16] for k, v in sorted(files.items())}


def default_seed_path(name: str) -> str:
    return f"/var/lib/libvirt/images/{name}-cidata.iso"


# ---------------------------------------------------------------- target


def target_spec(req: GuestRequest, actual: DomainSpec | None, domain_type: str) -> DomainSpec:
    """The domain the user asks for: the actual one with every option the user set replaced."""
    spec = copy_spec(actual) if actual else DomainSpec(name=req.name, domain_type=domain_type)
    if actual is None:
        if domain_type == "kvm" and req.cpu_mode is None and req.cpu_model is None:
            spec.cpu_mode = "host-passthrough"
        if domain_type == "xen":
            spec.xen_mode = req.xen_mode or "hvm"
    elif req.hypervisor != "auto" and req.hypervisor != actual.domain_type and actual.domain_type != "test":
        spec.domain_type = req.hypervisor
    for key in ("xen_mode", "cpu_mode", "cpu_model", "firmware", "kernel", "initrd", "cmdline", "bootloader",
                "cpu_shares", "cpu_quota", "cpu_period", "cpu_pinning", "memory_hard_limit", "memory_soft_limit",
                "swap_hard_limit", "blkio_weight", "labels"):
        value = getattr(req, key)
        if value is not None:
            setattr(spec, key, value)
    if req.cpu_model is not None and req.cpu_mode is None:
        spec.cpu_mode = "custom"
    if req.machine is not None and not machine_matches(spec.machine, req.machine):
        spec.machine = req.machine
    _sizes(req, spec, actual is None)
    if req.disks is not None:
        spec.disks = _disks(req, spec)
    if req.seed is not None:
        _seed_disk(req, spec)
    if req.interfaces is not None:
        spec.interfaces = _interfaces(req, spec)
    elif actual is None:
        spec.interfaces = []
    return spec


def _sizes(req: GuestRequest, spec: DomainSpec, new: bool) -> None:
    if req.max_vcpus is not None:
        spec.max_vcpus = req.max_vcpus
    if req.vcpus is not None:
        spec.vcpus = req.vcpus
        if new and req.max_vcpus is None:
            spec.max_vcpus = req.vcpus
    if spec.vcpus > spec.max_vcpus:
        if req.max_vcpus is not None or req.vcpus is None:
            raise LimitError("vcpus", spec.vcpus, f"at most max_vcpus ({spec.max_vcpus})")
        spec.max_vcpus = spec.vcpus
    if req.max_memory is not None:
        spec.max_memory = req.max_memory
    if req.memory is not None:
        spec.memory = req.memory
        if new and req.max_memory is None:
            spec.max_memory = req.memory
    if spec.memory > spec.max_memory:
        if req.max_memory is not None or req.memory is None:
            raise LimitError("memory", format_size(spec.memory), f"at most max_memory ({format_size(spec.max_memory)})")
        spec.max_memory = spec.memory
    for option in ("memory_hard_limit", "memory_soft_limit"):
        value = getattr(spec, option)
        if value is not None and getattr(req, option) is not None and value < spec.memory:
            raise LimitError(option, format_size(value), f"at least the guest's memory ({format_size(spec.memory)})")
    pins = spec.cpu_pinning
    if req.cpu_pinning is not None and pins and max(pins) >= spec.max_vcpus:
        raise LimitError("cpu_pinning", {str(k): v for k, v in pins.items()}, f"vCPU numbers below max_vcpus ({spec.max_vcpus})")


def _disks(req: GuestRequest, spec: DomainSpec) -> list[Disk]:
    default_bus = "xen" if spec.domain_type == "xen" else "virtio"
    old = {d.target: d for d in spec.disks}
    result: list[Disk] = []
    used: set[str] = set()
    for dreq in req.disks or []:
        disk = dreq.disk
        same = next((d for d in spec.disks if d.device == disk.device and
                     ((disk.path and d.path == disk.path) or (disk.pool and (d.pool, d.volume) == (disk.pool, disk.volume)))), None)
        if disk.bus is None:
            disk.bus = same.bus if same else ("sata" if disk.device == "cdrom" and spec.domain_type != "xen" else default_bus)
        if disk.target is None:
            disk.target = same.target if same else _free_target(disk.bus, used | {d.target for d in spec.disks if d.target} - (
                {same.target} if same else set()), old)
        used.add(disk.target)
        previous = old.get(disk.target)
        if previous is not None:
            # Unset details keep what the guest has: a disk entry without cache or iotune changes neither.
            for key in ("format", "cache"):
                if getattr(disk, key) is None:
                    setattr(disk, key, getattr(previous, key))
            if not dreq.iotune_given:
                disk.iotune = dict(previous.iotune)
        result.append(disk)
    return result


def _free_target(bus: str, taken: set[str], old: dict[str | None, Disk]) -> str:
    index = 0
    while default_target(bus, index) in taken:
        index += 1
    return default_target(bus, index)


def _seed_disk(req: GuestRequest, spec: DomainSpec) -> None:
    path = req.seed_path or default_seed_path(req.name)
    if any(d.path == path for d in spec.disks):
        return
    # A read-only virtio disk, not a SATA cdrom: Debian's cloud kernel has no
    # AHCI driver, so a seed on SATA is never seen, and NoCloud finds its
    # `cidata` label on any block device (as cloud-localds' `if=virtio`).
    bus = "xen" if spec.domain_type == "xen" else "virtio"
    taken = {d.target for d in spec.disks if d.target}
    spec.disks.append(Disk(target=_free_target(bus, taken, {}), path=path, format="raw", bus=bus, device="disk",
                           readonly=True))


def _interfaces(req: GuestRequest, spec: DomainSpec) -> list[Interface]:
    result: list[Interface] = []
    default_model = None if spec.domain_type in ("xen", "test") else "virtio"
    for index, nic in enumerate(req.interfaces or []):
        previous = spec.interfaces[index] if index < len(spec.interfaces) else None
        same_place = previous is not None and (previous.network, previous.bridge) == (nic.network, nic.bridge)
        mac = nic.mac or (previous.mac if same_place and previous else None) or stable_mac(req.name, index, spec.domain_type)
        model = nic.model or (previous.model if same_place and previous else default_model)
        result.append(Interface(network=nic.network, bridge=nic.bridge, mac=mac, model=model))
    return result


# ---------------------------------------------------------------- plan


def _changes(before: DomainSpec | None, after: DomainSpec, options: tuple[str, ...] = COMPARED) -> list[Change]:
    old = view(before) if before else {}
    new = view(after)
    changes = []
    for key in options:
        if key == "machine" and before is not None and machine_matches(before.machine, after.machine):
            continue
        if before is None and new.get(key) in (None, {}, []):
            continue
        if old.get(key) != new.get(key):
            changes.append(Change(key, old.get(key), new.get(key)))
    return changes


def _live_changes(live: DomainSpec, target: DomainSpec) -> tuple[list[Change], list[str]]:
    """The changes libvirt can make on the running guest, and live options it cannot make now."""
    changes: list[Change] = []
    blocked: list[str] = []
    for change in _changes(live, target, LIVE_OPTIONS):
        if change.option == "vcpus" and target.vcpus > live.max_vcpus:
            blocked.append("vcpus")
        elif change.option == "memory" and target.memory > live.max_memory:
            blocked.append("memory")
        elif change.option == "cpu_pinning" and any(v >= live.max_vcpus for v in target.cpu_pinning):
            blocked.append("cpu_pinning")
        else:
            changes.append(change)
    old = {d.target: d for d in live.disks}
    for disk in target.disks:
        before = old.get(disk.target)
        if before is not None and before.iotune != disk.iotune and _same_disk(before, disk):
            after_view = {k: (format_size(v) if k in BYTE_IOTUNE_KEYS else v) for k, v in sorted(disk.iotune.items())}
            before_view = {k: (format_size(v) if k in BYTE_IOTUNE_KEYS else v) for k, v in sorted(before.iotune.items())}
            changes.append(Change(f"disks.{disk.target}.iotune", before_view, after_view))
    return changes, blocked


def _without_iotune(spec: DomainSpec) -> list[dict[str, Any]]:
    return [{k: v for k, v in d.items() if k != "iotune"} for d in view(spec)["disks"]]


def _same_disk(a: Disk, b: Disk) -> bool:
    return (a.path, a.pool, a.volume, a.device) == (b.path, b.pool, b.volume, b.device)


def plan_guest(req: GuestRequest, actual: Actual, domain_type: str) -> GuestPlan:
    """The plan that brings the guest from ``actual`` to ``req``; ``domain_type`` is used only for a new guest."""
    name = req.name
    plan = Plan(before=_state_view(actual.inactive, actual.state, actual.autostart))
    if req.state == "absent":
        plan.after = {}
        if actual.inactive is not None:
            if actual.state in ("running", "paused"):
                plan.add("stop", name, reason="a guest is powered off before it is undefined")
            plan.add("delete", name, reason="state=absent")
        return GuestPlan(plan=plan, target=None)

    target = target_spec(req, actual.inactive, domain_type)
    result = GuestPlan(plan=plan, target=target)
    _plan_storage(req, actual, result)
    seed_change = None
    if req.seed is not None and req.seed != actual.seed:
        result.seed = req.seed
        seed_change = Change("cloud_init", seed_digest(actual.seed), seed_digest(req.seed))
    running = actual.state in ("running", "paused")
    if actual.inactive is None:
        plan.add("create", name, _changes(None, target) + ([seed_change] if seed_change else []),
                 reason=f"the guest does not exist; domain type {target.domain_type}")
    else:
        persistent = _changes(actual.inactive, target)
        if seed_change:
            persistent.append(seed_change)
        if actual.overlay_xml is not None:
            persistent.append(Change("xml", "(actual domain)", "(overlay differs from the actual domain)"))
        live: list[Change] = []
        blocked: list[str] = []
        if running and actual.live is not None and req.apply != "next_boot":
            live, blocked = _live_changes(actual.live, target)
        live_names = {c.option for c in live}
        if live:
            plan.add("update_live", name, live, reason="applied to the running guest and persisted")
            result.applied_live = [c.option for c in live]
        rest = [c for c in persistent if c.option not in live_names]
        if any(n.endswith(".iotune") for n in live_names) and _without_iotune(actual.inactive) == _without_iotune(target):
            rest = [c for c in rest if c.option != "disks"]  # only I/O limits differ, and those go live
        if rest:
            if running:
                plan.add("update_next_boot", name, rest, reason="persisted; takes effect when the guest next boots")
                reboot_needed = [c.option for c in rest if c.option not in LIVE_OPTIONS or c.option in blocked]
                reboot_needed += [c.option for c in rest if req.apply == "next_boot" and c.option in LIVE_OPTIONS
                                  and c.option not in reboot_needed]
                result.pending_reboot = reboot_needed
            else:
                plan.add("update", name, rest, reason="the guest is not running; persisted")
        if result.pending_reboot and req.apply == "reboot" and req.state in ("running", "present"):
            plan.add("restart", name, reason="apply=reboot: " + ", ".join(result.pending_reboot) + " need a reboot")
            result.pending_reboot = []
    if req.autostart is not None and req.autostart != actual.autostart:
        plan.add("update", name, [Change("autostart", actual.autostart, req.autostart)])
        result.autostart = req.autostart
    _plan_power(req, actual, result)
    plan.after = _state_view(target, _state_after(req.state, actual.state), req.autostart if req.autostart is not None else actual.autostart)
    return result


def _plan_storage(req: GuestRequest, actual: Actual, result: GuestPlan) -> None:
    for dreq in req.disks or []:
        disk = dreq.disk
        key = f"{disk.pool}/{disk.volume}" if disk.pool else disk.path or ""
        option = f"disks[{dreq.index}]"
        capacity = actual.volumes.get(key)
        if capacity is None:
            if disk.device == "cdrom":
                continue
            if dreq.size is None and dreq.base_image is None:
                where = f"volume {disk.volume!r} in pool {disk.pool!r}" if disk.pool else f"file {disk.path!r}"
                raise LimitError(option, key, f"an existing disk, but {where} does not exist; give size or base_image to create it")
            result.new_volumes.append(dreq)
            changes = [Change("size", None, format_size(dreq.size))]
            if dreq.base_image:
                changes.append(Change("base_image", None, dreq.base_image))
            result.plan.add("create", f"volume:{key}", changes, reason="a new disk")
        elif dreq.size is not None and dreq.size != capacity:
            if dreq.size < capacity:
                raise LimitError(f"{option}.size", format_size(dreq.size),
                                 f"at least the volume's current {format_size(capacity)}; volumes are never shrunk")
            result.resizes.append((dreq, capacity))
            result.plan.add("update", f"volume:{key}", [Change("size", format_size(capacity), format_size(dreq.size))],
                            reason="volumes only grow")


def _state_after(wanted: str, now: str) -> str:
    if wanted == "present":
        return "shutoff" if now == "absent" else now
    return {"running": "running", "stopped": "shutoff", "paused": "paused"}.get(wanted, now)


def _plan_power(req: GuestRequest, actual: Actual, result: GuestPlan) -> None:
    plan, name, now = result.plan, req.name, actual.state
    if req.state == "running":
        if now in ("absent", "shutoff"):
            plan.add("start", name)
        elif now == "paused":
            plan.add("resume", name)
    elif req.state == "stopped" and now in ("running", "paused"):
        plan.add("stop", name)
        result.pending_reboot = []
    elif req.state == "paused":
        if now in ("absent", "shutoff"):
            plan.add("start", name, reason="started paused")
        if now != "paused":
            plan.add("pause", name)
    if any(a.kind in ("start", "stop") for a in plan.actions):
        result.pending_reboot = []
        plan.actions = [a for a in plan.actions if a.kind != "restart"]


def _state_view(spec: DomainSpec | None, state: str, autostart: bool) -> dict[str, Any]:
    if spec is None:
        return {}
    return {"name": spec.name, "state": state, "autostart": autostart, **{k: v for k, v in view(spec).items() if v not in (None, {}, [])}}
