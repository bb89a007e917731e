# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read a guest's actual state from libvirt, and apply a :class:`GuestPlan` to it.

This is the only guest code that calls libvirt.  The runners at the bottom
(:func:`run_guest`, :func:`run_guest_info`) are what the modules' ``main()``
call: read, plan (pure), apply unless in check mode, report.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import time
import xml.etree.ElementTree as ET
from typing import Any

from ansible_collections.hyperdock.platform.plugins.module_utils import _libvirt as lv
from ansible_collections.hyperdock.platform.plugins.module_utils._libvirt_domain import (
    BYTE_IOTUNE_KEYS,
    IOTUNE_KEYS,
    KIB,
    LABELS_PREFIX,
    LABELS_URI,
    XmlError,
    apply_overlay,
    interface_view,
    labels_metadata,
    parse,
    render,
    view,
)
from ansible_collections.hyperdock.platform.plugins.module_utils._libvirt_plan import (
    SEED_FILES,
    Actual,
    GuestPlan,
    GuestRequest,
    default_seed_path,
    parse_request,
    plan_guest,
)
from ansible_collections.hyperdock.platform.plugins.module_utils._units import LimitError, format_size

# Options one libvirt call sets together.
LIVE_GROUPS = {"cpu_shares": "sched", "cpu_quota": "sched", "cpu_period": "sched", "memory_hard_limit": "memtune",
               "memory_soft_limit": "memtune", "swap_hard_limit": "memtune"}
# VIR_DOMAIN_MEMORY_PARAM_UNLIMITED (KiB), which libvirt-python does not export.
MEMORY_UNLIMITED = 9007199254740991
STATES = {1: "running", 2: "running", 3: "paused", 4: "running", 5: "shutoff", 6: "shutoff", 7: "paused"}
# libvirt's own state names, as `virsh list` prints them (spaces as underscores): the inventory's vocabulary.
LIBVIRT_STATES = {0: "no_state", 1: "running", 2: "idle", 3: "paused", 4: "in_shutdown", 5: "shut_off", 6: "crashed",
                  7: "pmsuspended"}


# ---------------------------------------------------------------- read


def lookup(conn: Any, name: str) -> Any | None:
    try:
        return conn.lookupByName(name)
    except lv.libvirt.libvirtError as exc:
        if lv.no_such(exc):
            return None
        raise


def domain_state(dom: Any) -> str:
    return STATES.get(dom.state()[0], "shutoff")


def read_actual(conn: Any, req: GuestRequest) -> Actual:
    actual = Actual()
    dom = lookup(conn, req.name)
    if dom is not None:
        inactive_xml = dom.XMLDesc(lv.libvirt.VIR_DOMAIN_XML_INACTIVE)
        actual.inactive = parse(inactive_xml)
        actual.state = domain_state(dom)
        actual.autostart = bool(dom.autostart()) if dom.isPersistent() else False
        if actual.state != "shutoff":
            actual.live = parse(dom.XMLDesc(0))
            target = balloon_target(dom)
            if target is not None:
                actual.live.memory = target
        if req.xml and _canonical(apply_overlay(inactive_xml, req.xml)) != _canonical(inactive_xml):
            actual.overlay_xml = req.xml
    elif req.xml:
        apply_overlay("<domain/>", req.xml)  # a malformed overlay fails before anything changes
    for dreq in req.disks or []:
        disk = dreq.disk
        key = f"{disk.pool}/{disk.volume}" if disk.pool else disk.path or ""
        actual.volumes[key] = volume_capacity(conn, disk.pool, disk.volume, disk.path, f"disks[{dreq.index}]")
    if req.seed is not None:
        actual.seed = read_seed(req.seed_path or default_seed_path(req.name))
    return actual


def _canonical(xml: str) -> str:
    root = ET.fromstring(xml)
    for elem in root.iter():
        if elem.text is not None and not elem.text.strip():
            elem.text = None
        elem.tail = None
    return ET.tostring(root, encoding="unicode")


def volume_capacity(conn: Any, pool: str | None, volume: str | None, path: str | None, option: str) -> int | None:
    """The virtual size of a disk in bytes, or None when it does not exist yet."""
    if pool:
        try:
            pool_obj = conn.storagePoolLookupByName(pool)
        except lv.libvirt.libvirtError as exc:
            raise lv.BackendError(f"{option}.pool", pool, lv.error_text(exc)) from None
        with contextlib.suppress(lv.libvirt.libvirtError):  # an inactive pool cannot refresh; the lookup says what exists
            pool_obj.refresh(0)
        try:
            return pool_obj.storageVolLookupByName(volume).info()[1]
        except lv.libvirt.libvirtError as exc:
            if lv.no_such(exc):
                return None
            raise lv.BackendError(f"{option}.volume", volume, lv.error_text(exc)) from None
    if path and os.path.exists(path):
        return image_info(path).get("virtual-size", os.path.getsize(path))
    return None


def image_info(path: str) -> dict[str, Any]:
    proc = subprocess.run(["qemu-img", "info", "--force-share", "--output=json", path], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {}
    return json.loads(proc.stdout)


def read_seed(path: str) -> dict[str, str] | None:
    """The files of an existing NoCloud seed ISO, to regenerate it only when they change."""
    if not os.path.exists(path):
        return None
    import pycdlib

    iso = pycdlib.PyCdlib()
    try:
        iso.open(path)
    except Exception:  # pycdlib raises its own and OS errors; an unreadable seed is simply rebuilt
        return {}
    files: dict[str, str] = {}
    try:
        for name in SEED_FILES:
            out = io.BytesIO()
            try:
                iso.get_file_from_iso_fp(out, joliet_path="/" + name)
            except Exception:
                continue
            files[name] = out.getvalue().decode()
    finally:
        iso.close()
    return files


def write_seed(path: str, files: dict[str, str]) -> None:
    import pycdlib

    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident="cidata")
    for index, (name, text) in enumerate(sorted(files.items())):
        data = text.encode()
        iso.add_fp(io.BytesIO(data), len(data), f"/FILE{index};1", rr_name=name, joliet_path="/" + name)
    tmp = path + ".tmp"
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    iso.write(tmp)
    iso.close()
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


# The balloon target we asked for, kept in the running domain's (live-only) metadata: a guest without a
# balloon driver never reports the new size, and the module must not then retry on every run.
META_URI = "https://hyperdock.platform/guest/1"
META_KEY = "hyperdock"


def balloon_target(dom: Any) -> int | None:
    try:
        xml = dom.metadata(lv.libvirt.VIR_DOMAIN_METADATA_ELEMENT, META_URI, lv.libvirt.VIR_DOMAIN_AFFECT_LIVE)
    except lv.libvirt.libvirtError:
        return None
    try:
        return int(ET.fromstring(xml).get("kib", "")) * KIB
    except (ET.ParseError, ValueError):
        return None


def set_balloon(dom: Any, memory: int) -> None:
    """Ask the guest to balloon to ``memory`` and remember that we asked (live only)."""
    live = lv.libvirt.VIR_DOMAIN_AFFECT_LIVE
    dom.setMemoryFlags(memory // KIB, live)
    _remember_balloon(dom, memory)


def _remember_balloon(dom: Any, memory: int) -> None:
    # Drivers without metadata: the next run compares with what the guest reports.
    with contextlib.suppress(lv.libvirt.libvirtError):
        dom.setMetadata(lv.libvirt.VIR_DOMAIN_METADATA_ELEMENT, f"<balloon kib='{memory // KIB}'/>", META_KEY, META_URI,
                        lv.libvirt.VIR_DOMAIN_AFFECT_LIVE)


# ---------------------------------------------------------------- apply


def apply_plan(conn: Any, req: GuestRequest, gplan: GuestPlan, timeout: int, force: bool, remove_storage: bool) -> None:
    kinds = {a.kind for a in gplan.plan.actions}
    dom = lookup(conn, req.name)
    if "delete" in kinds:
        _delete(conn, dom, remove_storage, kinds)
        return
    for dreq in gplan.new_volumes:
        create_volume(conn, dreq.disk.pool, dreq.disk.volume, dreq.disk.path, dreq.size, dreq.base_image, f"disks[{dreq.index}]")
    if gplan.seed is not None:
        path = req.seed_path or default_seed_path(req.name)
        try:
            write_seed(path, gplan.seed)
        except OSError as exc:
            raise lv.BackendError("cloud_init.path", path, f"cannot write the seed ISO ({exc.strerror or exc})") from None
    if kinds & {"create", "update", "update_live", "update_next_boot"} and gplan.target is not None:
        base = dom.XMLDesc(lv.libvirt.VIR_DOMAIN_XML_INACTIVE) if dom is not None else None
        xml = render(gplan.target, base)
        if req.xml:
            xml = apply_overlay(xml, req.xml)
        if any(c.option != "autostart" for a in gplan.plan.actions if a.target == req.name for c in a.changes) or dom is None:
            try:
                dom = conn.defineXML(xml)
            except lv.libvirt.libvirtError as exc:
                raise lv.BackendError("xml" if req.xml else "name", req.name, f"libvirt rejected the domain: {lv.error_text(exc)}") from None
    for dreq, _old in gplan.resizes:
        _resize(conn, dom, dreq, running=domain_state(dom) != "shutoff")
    done: set[str] = set()
    for action in gplan.plan.of_kind("update_live"):
        for change in action.changes:
            group = LIVE_GROUPS.get(change.option, change.option)
            if group not in done:
                done.add(group)
                _apply_live(conn, dom, gplan, change.option)
    if gplan.autostart is not None:
        dom.setAutostart(1 if gplan.autostart else 0)
    try:
        _power(dom, gplan, timeout, force)
    except lv.libvirt.libvirtError as exc:
        raise lv.BackendError("state", req.state, f"libvirt could not change the power state: {lv.error_text(exc)}") from None


def _power(dom: Any, gplan: GuestPlan, timeout: int, force: bool) -> None:
    for action in gplan.plan.actions:
        if action.kind == "start":
            if any(a.kind == "pause" for a in gplan.plan.actions):
                try:
                    dom.createWithFlags(lv.libvirt.VIR_DOMAIN_START_PAUSED)
                except lv.libvirt.libvirtError:
                    dom.create()  # drivers without START_PAUSED; the pause action below suspends it
            else:
                dom.create()
            _note_boot_balloon(dom, gplan)
        elif action.kind == "stop":
            shutdown(dom, timeout, force)
        elif action.kind == "restart":
            shutdown(dom, timeout, force)
            dom.create()
            _note_boot_balloon(dom, gplan)
        elif action.kind == "pause" and domain_state(dom) != "paused":
            dom.suspend()
        elif action.kind == "resume":
            dom.resume()


def _apply_live(conn: Any, dom: Any, gplan: GuestPlan, option: str) -> None:
    live = lv.libvirt.VIR_DOMAIN_AFFECT_LIVE
    spec = gplan.target
    if option == "vcpus":
        dom.setVcpusFlags(spec.vcpus, live)
    elif option == "memory":
        set_balloon(dom, spec.memory)
    elif option in ("cpu_shares", "cpu_quota", "cpu_period"):
        params: dict[str, int] = {}
        if spec.domain_type == "xen":
            params["weight"] = spec.cpu_shares or 256
        else:
            for key, name in (("cpu_shares", "cpu_shares"), ("cpu_period", "vcpu_period"), ("cpu_quota", "vcpu_quota")):
                if getattr(spec, key) is not None:
                    params[name] = getattr(spec, key)
        dom.setSchedulerParametersFlags(params, live)
    elif option in ("memory_hard_limit", "memory_soft_limit", "swap_hard_limit"):
        # One call with all three: libvirt orders hard limit and swap limit so neither is briefly invalid.
        params = {}
        for key in ("memory_hard_limit", "memory_soft_limit", "swap_hard_limit"):
            value = getattr(spec, key)
            params[key.replace("memory_", "")] = MEMORY_UNLIMITED if value is None else value // KIB
        dom.setMemoryParameters(params, live)
    elif option == "blkio_weight":
        dom.setBlkioParameters({"weight": spec.blkio_weight}, live)
    elif option == "cpu_pinning":
        host_cpus = conn.getInfo()[2]
        for vcpu, cpuset in sorted(spec.cpu_pinning.items()):
            cpus = set()
            for part in cpuset.split(","):
                low, _sep, high = part.partition("-")
                cpus.update(range(int(low), int(high or low) + 1))
            dom.pinVcpuFlags(vcpu, tuple(i in cpus for i in range(host_cpus)), live)
    elif option.startswith("disks.") and option.endswith(".iotune"):
        target = option.split(".")[1]
        disk = next(d for d in spec.disks if d.target == target)
        dom.setBlockIoTune(target, {key: disk.iotune.get(key, 0) for key in IOTUNE_KEYS}, live)
    elif option == "labels":
        set_labels(dom, spec.labels, live | lv.libvirt.VIR_DOMAIN_AFFECT_CONFIG)


def set_labels(dom: Any, labels: dict[str, str], flags: int) -> None:
    """Replace the guest's labels (none removes the element); other metadata elements are not touched."""
    snippet = labels_metadata(labels)
    dom.setMetadata(lv.libvirt.VIR_DOMAIN_METADATA_ELEMENT, snippet, LABELS_PREFIX if snippet else None, LABELS_URI, flags)


def _note_boot_balloon(dom: Any, gplan: GuestPlan) -> None:
    """A guest boots with all of max_memory until its balloon driver loads; record what libvirt asked for."""
    if gplan.target is not None and gplan.target.memory != gplan.target.max_memory:
        _remember_balloon(dom, gplan.target.memory)


def shutdown(dom: Any, timeout: int, force: bool) -> None:
    """Shut the guest down gracefully and wait for it; power it off only when ``force`` allows."""
    if domain_state(dom) == "shutoff":
        return
    if domain_state(dom) == "paused":
        if force:
            dom.destroy()
            return
        dom.resume()
    try:
        dom.shutdown()
    except lv.libvirt.libvirtError:
        if not force:
            raise
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if domain_state(dom) == "shutoff":
            return
        time.sleep(0.5)
    if not force:
        raise lv.BackendError("timeout", timeout, "the guest did not shut down in time; set force=true to power it off after the timeout")
    dom.destroy()


def _delete(conn: Any, dom: Any, remove_storage: bool, kinds: set[str]) -> None:
    spec = parse(dom.XMLDesc(lv.libvirt.VIR_DOMAIN_XML_INACTIVE))
    if dom.isActive():
        dom.destroy()
    flags = 0
    for name in ("VIR_DOMAIN_UNDEFINE_NVRAM", "VIR_DOMAIN_UNDEFINE_MANAGED_SAVE", "VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA",
                 "VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA"):
        flags |= getattr(lv.libvirt, name, 0)
    try:
        dom.undefineFlags(flags)
    except lv.libvirt.libvirtError:
        dom.undefine()  # drivers without flags support (test, older libxl)
    if remove_storage:
        for disk in spec.disks:
            delete_disk(conn, disk.pool, disk.volume, disk.path)


def delete_disk(conn: Any, pool: str | None, volume: str | None, path: str | None) -> None:
    try:
        vol = conn.storagePoolLookupByName(pool).storageVolLookupByName(volume) if pool else conn.storageVolLookupByPath(path)
        vol.delete(0)
        return
    except lv.libvirt.libvirtError:
        pass
    if path and os.path.isfile(path):
        os.remove(path)


def create_volume(conn: Any, pool: str | None, volume: str | None, path: str | None, size: int | None,
                  base_image: str | None, option: str) -> None:
    """Create a new qcow2 (or raw) disk; a base image becomes its backing file, never copied over."""
    backing_fmt = None
    if base_image:
        info = image_info(base_image)
        if not info:
            raise lv.BackendError(f"{option}.base_image", base_image, "is not a readable disk image")
        backing_fmt = info.get("format", "raw")
        size = max(size or 0, info.get("virtual-size", 0))
    if pool:
        root = ET.Element("volume")
        ET.SubElement(root, "name").text = volume
        ET.SubElement(root, "capacity", unit="bytes").text = str(size)
        target = ET.SubElement(root, "target")
        ET.SubElement(target, "format", type="qcow2")
        if base_image:
            backing = ET.SubElement(root, "backingStore")
            ET.SubElement(backing, "path").text = base_image
            ET.SubElement(backing, "format", type=backing_fmt)
        try:
            conn.storagePoolLookupByName(pool).createXML(ET.tostring(root, encoding="unicode"), 0)
        except lv.libvirt.libvirtError as exc:
            raise lv.BackendError(f"{option}.volume", volume, lv.error_text(exc)) from None
        return
    cmd = ["qemu-img", "create", "-q", "-f", "qcow2"]
    if base_image:
        cmd += ["-b", base_image, "-F", backing_fmt]
    cmd += [path, str(size)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise lv.BackendError(f"{option}.path", path, proc.stderr.strip())


def _resize(conn: Any, dom: Any, dreq: Any, running: bool) -> None:
    disk = dreq.disk
    if running:
        dom.blockResize(disk.target, dreq.size, lv.libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)
        return
    if disk.pool:
        conn.storagePoolLookupByName(disk.pool).storageVolLookupByName(disk.volume).resize(dreq.size, 0)
        return
    proc = subprocess.run(["qemu-img", "resize", "-q", disk.path, str(dreq.size)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise lv.BackendError(f"disks[{dreq.index}].size", format_size(dreq.size), proc.stderr.strip())


# ---------------------------------------------------------------- info


def guest_info(conn: Any, dom: Any, usage: bool = True) -> dict[str, Any]:
    """One guest in the module's vocabulary: state, resources and limits, labels, disks, interfaces with IPs,
    and (with ``usage``) what a running guest uses now."""
    state = domain_state(dom)
    persistent = dom.isPersistent()
    config = parse(dom.XMLDesc(lv.libvirt.VIR_DOMAIN_XML_INACTIVE if persistent else 0))
    live = parse(dom.XMLDesc(0)) if state != "shutoff" else None
    info: dict[str, Any] = {"name": dom.name(), "uuid": dom.UUIDString(), "state": state,
                            "autostart": bool(dom.autostart()) if persistent else False, "persistent": bool(persistent)}
    config_view = view(config)
    info.update({k: v for k, v in config_view.items() if v not in (None, {}, [])})
    info["labels"] = config_view["labels"]  # always there, {} when none
    if live is not None:
        info["live"] = {k: v for k, v in view(live).items() if k in ("vcpus", "memory", "max_vcpus", "max_memory", "labels")}
        target = balloon_target(dom)
        info["live"]["memory_target"] = format_size(target if target is not None else live.memory)
    addresses = interface_addresses(dom) if state == "running" else {}
    info["interfaces"] = [dict(interface_view(n), addresses=addresses.get((n.mac or "").lower(), [])) for n in (live or config).interfaces]
    if usage:
        info["usage"] = guest_usage(dom, live) if live is not None else None
    return info


def guest_usage(dom: Any, live: Any) -> dict[str, Any]:
    """What a running guest uses now, from calls that cost one round trip each; what a driver cannot tell is None.

    Memory is reported twice, as the two layers see it: ``memory_used`` is what the guest's own kernel has in
    use (its memory less what it could hand out without swapping, ``MemAvailable``), from the virtio balloon's
    statistics when the guest reports them; ``memory_rss`` is what the guest's process holds on the host, which
    also counts the emulator's own memory (under TCG, its translation cache) and so can exceed the guest's size.
    """
    cpu_ns = dom.info()[4]
    try:
        stats = dom.memoryStats()
    except lv.libvirt.libvirtError:
        stats = {}
    rss = None if stats.get("rss") is None else stats["rss"] * KIB
    used = memory_in_use(stats)
    disks = []
    for disk in live.disks:
        if not disk.target:
            continue
        try:
            _capacity, allocation, _physical = dom.blockInfo(disk.target)
        except lv.libvirt.libvirtError:
            continue  # an empty CD-ROM drive, or a driver without blockInfo
        disks.append({"target": disk.target, "allocation": format_size(allocation), "allocation_bytes": allocation})
    return {"cpu_time_seconds": round(cpu_ns / 1e9, 3),
            "memory_used": format_size(used), "memory_used_bytes": used,
            "memory_rss": format_size(rss), "memory_rss_bytes": rss,
            "disks": disks}


def memory_in_use(stats: dict[str, int]) -> int | None:
    """Bytes the guest's kernel has in use, from libvirt's balloon statistics (KiB), or None when not reported.

    ``available`` is the memory the guest sees; ``usable`` (the guest's MemAvailable, libvirt 4.6 and later)
    is what it could free without swapping, ``unused`` (MemFree) what it has not touched at all.
    """
    available = stats.get("available")
    spare = stats.get("usable", stats.get("unused"))
    if available is None or spare is None or spare > available:
        return None
    return (available - spare) * KIB


def inventory_guests(uri: str) -> list[dict[str, Any]]:
    """Every guest on ``uri`` for the inventory plugin, sorted by name: :func:`guest_info` without usage, plus
    ``libvirt_state`` (libvirt's own state name) and ``address`` (the first IPv4 address, else the first global
    IPv6 one, else None).  Raises :class:`BackendError` naming ``uri``."""
    conn = lv.connect(uri)
    try:
        guests = []
        for dom in sorted(conn.listAllDomains(0), key=lambda d: d.name()):
            try:
                info = guest_info(conn, dom, usage=False)
                info["libvirt_state"] = LIBVIRT_STATES.get(dom.state()[0], "no_state")
            except lv.libvirt.libvirtError as exc:
                if lv.no_such(exc):
                    continue  # undefined while we were reading
                raise
            info["address"] = first_address(info["interfaces"])
            guests.append(info)
        return guests
    except lv.libvirt.libvirtError as exc:
        raise lv.BackendError("uri", uri, lv.error_text(exc)) from None
    finally:
        conn.close()


def first_address(interfaces: list[dict[str, Any]]) -> str | None:
    addresses = [a for nic in interfaces for a in nic.get("addresses", [])]
    ipv4 = [a for a in addresses if ":" not in a]
    ipv6 = [a for a in addresses if ":" in a and not a.lower().startswith("fe80:")]
    return (ipv4 or ipv6 or [None])[0]


def interface_addresses(dom: Any) -> dict[str, list[str]]:
    """IP addresses by MAC from DHCP leases, the guest agent or ARP, whichever answers first."""
    for source in ("VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE", "VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT",
                   "VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP"):
        flag = getattr(lv.libvirt, source, None)
        if flag is None:
            continue
        try:
            found = dom.interfaceAddresses(flag, 0)
        except lv.libvirt.libvirtError:
            continue
        result: dict[str, list[str]] = {}
        for nic in (found or {}).values():
            mac = (nic.get("hwaddr") or "").lower()
            result.setdefault(mac, []).extend(a["addr"] for a in nic.get("addrs") or [])
        if any(result.values()):
            return result
    return {}


# ---------------------------------------------------------------- runners


def _fail(module: Any, exc: BaseException, **extra: Any) -> None:
    module.fail_json(msg=str(exc), **extra)


def run_guest(module: Any) -> None:
    lv.require_libvirt(module)
    params = module.params
    try:
        req = parse_request(params)
        conn = lv.connect(params["uri"])
    except (LimitError, lv.BackendError) as exc:
        _fail(module, exc)
        return
    try:
        actual = read_actual(conn, req)
        if actual.inactive is None and req.state != "absent":
            choice = lv.choose_hypervisor(conn, req.hypervisor)
        elif actual.inactive is not None:
            choice = lv.HypervisorChoice(actual.inactive.domain_type, "the guest exists; its domain type is kept")
            if req.hypervisor not in ("auto", actual.inactive.domain_type):
                choice = lv.HypervisorChoice(req.hypervisor, f"hypervisor={req.hypervisor} was requested")
        else:
            choice = lv.HypervisorChoice("", "state=absent")
        _check_networks(conn, req)
        gplan = plan_guest(req, actual, choice.domain_type)
        if not module.check_mode and gplan.plan.changed:
            apply_plan(conn, req, gplan, params["timeout"], params["force"], params["remove_storage"])
    except (LimitError, lv.BackendError, XmlError) as exc:
        _fail(module, exc)
        return
    except lv.libvirt.libvirtError as exc:
        _fail(module, lv.BackendError("name", req.name, lv.error_text(exc)))
        return
    finally:
        conn.close()
    result: dict[str, Any] = {
        "changed": gplan.plan.changed,
        "actions": gplan.plan.as_list(),
        "applied_live": gplan.applied_live,
        "pending_reboot": gplan.pending_reboot,
        "hypervisor": {"type": choice.domain_type, "reason": choice.reason},
        "guest": gplan.plan.after,
    }
    if module._diff:
        result["diff"] = gplan.plan.diff()
    module.exit_json(**result)


def _check_networks(conn: Any, req: GuestRequest) -> None:
    """An unknown network fails naming the interface before anything changes."""
    if req.state == "absent":
        return
    for index, nic in enumerate(req.interfaces or []):
        if nic.network:
            try:
                conn.networkLookupByName(nic.network)
            except lv.libvirt.libvirtError:
                names = sorted(conn.listNetworks() + conn.listDefinedNetworks())
                raise lv.BackendError(f"interfaces[{index}].network", nic.network,
                                      "no such libvirt network; known networks: " + (", ".join(names) or "none")) from None


def run_guest_info(module: Any) -> None:
    conn = lv.open_for(module)
    try:
        name = module.params.get("name")
        if name:
            dom = lookup(conn, name)
            doms = [dom] if dom is not None else []
        else:
            doms = sorted(conn.listAllDomains(0), key=lambda d: d.name())
        guests = [guest_info(conn, d) for d in doms]
    except lv.libvirt.libvirtError as exc:
        _fail(module, lv.BackendError("name", module.params.get("name"), lv.error_text(exc)))
        return
    finally:
        conn.close()
    module.exit_json(changed=False, guests=guests, exists=bool(guests))


__all__ = ["BYTE_IOTUNE_KEYS", "run_guest", "run_guest_info"]
