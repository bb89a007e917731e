# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Storage pools and volumes: pure planners and the appliers behind ``storage_pool`` and ``storage_volume``.

Nothing is deleted or overwritten implicitly: a volume is removed only with
``state: absent``, an existing volume is never re-cloned or re-imported, and a
resize only ever grows it.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from typing import Any

from ansible_collections.hyperdock.platform.plugins.module_utils import _libvirt as lv
from ansible_collections.hyperdock.platform.plugins.module_utils._plan import Change, Plan
from ansible_collections.hyperdock.platform.plugins.module_utils._units import LimitError, format_size, parse_size

# ---------------------------------------------------------------- pools


def pool_view(xml: str) -> dict[str, Any]:
    root = ET.fromstring(xml)
    view: dict[str, Any] = {"type": root.get("type"), "path": root.findtext("target/path")}
    if root.get("type") == "logical":
        view["source_name"] = root.findtext("source/name")
        view["devices"] = sorted(d.get("path") for d in root.findall("source/device"))
    return view


def pool_xml(params: dict[str, Any]) -> str:
    root = ET.Element("pool", {"type": params["type"]})
    ET.SubElement(root, "name").text = params["name"]
    if params["type"] == "logical":
        source = ET.SubElement(root, "source")
        ET.SubElement(source, "name").text = params.get("source_name") or params["name"]
        for device in params.get("devices") or []:
            ET.SubElement(source, "device", {"path": device})
        ET.SubElement(source, "format", {"type": "lvm2"})
    target = ET.SubElement(root, "target")
    path = params.get("path") or (f"/dev/{params.get('source_name') or params['name']}" if params["type"] == "logical" else None)
    if path is None:
        raise LimitError("path", None, "a directory for a dir pool, such as /var/lib/libvirt/images")
    ET.SubElement(target, "path").text = path
    return ET.tostring(root, encoding="unicode")


def plan_pool(params: dict[str, Any], actual_xml: str | None, active: bool, autostart: bool) -> Plan:
    name, state = params["name"], params["state"]
    plan = Plan(before=dict(pool_view(actual_xml), active=active, autostart=autostart) if actual_xml else {})
    if state == "absent":
        if actual_xml is not None:
            plan.add("delete", name, reason="the pool definition is removed; its volumes' data is left in place")
        return plan
    wanted = pool_view(pool_xml(params))
    if actual_xml is None:
        plan.add("create", name, [Change(k, None, v) for k, v in wanted.items() if v not in (None, [])])
        actual_view: dict[str, Any] = {}
    else:
        actual_view = pool_view(actual_xml)
        changes = [Change(k, actual_view.get(k), v) for k, v in wanted.items()
                   if v not in (None, []) and params.get(k if k != "type" else "type") is not None and actual_view.get(k) != v]
        if changes:
            plan.add("recreate" if not active else "update_next_boot", name, changes,
                     reason="pools are redefined; an active pool picks the change up when restarted")
    if params.get("autostart") is not None and params["autostart"] != autostart:
        plan.add("update", name, [Change("autostart", autostart, params["autostart"])])
    if state == "active" and not active:
        plan.add("start", name)
    elif state == "inactive" and active:
        plan.add("stop", name)
    plan.after = dict(actual_view or wanted, **{k: v for k, v in wanted.items() if v not in (None, [])},
                      active=state == "active" or (state == "present" and active),
                      autostart=params["autostart"] if params.get("autostart") is not None else autostart)
    return plan


def run_pool(module: Any) -> None:
    params = module.params
    conn = lv.open_for(module)
    with lv.reporting(module, conn, "name", params["name"]):
        pool = _lookup_pool(conn, params["name"])
        xml = pool.XMLDesc(lv.libvirt.VIR_STORAGE_XML_INACTIVE) if pool else None
        active, autostart = (bool(pool.isActive()), bool(pool.autostart())) if pool else (False, False)
        plan = plan_pool(params, xml, active, autostart)
        if plan.changed and not module.check_mode:
            _apply_pool(conn, pool, params, plan)
    lv.exit_with_plan(module, plan, pool=plan.after)


def _lookup_pool(conn: Any, name: str) -> Any | None:
    try:
        return conn.storagePoolLookupByName(name)
    except lv.libvirt.libvirtError as exc:
        if lv.no_such(exc):
            return None
        raise


def _apply_pool(conn: Any, pool: Any, params: dict[str, Any], plan: Plan) -> None:
    kinds = {a.kind for a in plan.actions}
    if "delete" in kinds:
        if pool.isActive():
            pool.destroy()
        pool.undefine()
        return
    if kinds & {"create", "recreate", "update_next_boot"}:
        pool = conn.storagePoolDefineXML(pool_xml(params), 0)
        if "create" in kinds and (params["type"] == "dir" or params.get("build")):
            # dir: mkdir -p; logical: vgcreate on the devices, only when asked (build=true)
            pool.build(0)
    if any(c.option == "autostart" for a in plan.actions for c in a.changes):
        pool.setAutostart(1 if params["autostart"] else 0)
    if "start" in kinds:
        pool.create(0)
    if "stop" in kinds:
        pool.destroy()


# ---------------------------------------------------------------- volumes


def plan_volume(params: dict[str, Any], capacity: int | None, fmt: str | None) -> Plan:
    name, target = params["name"], f"{params['pool']}/{params['name']}"
    plan = Plan(before={"name": name, "pool": params["pool"], "size": format_size(capacity), "format": fmt} if capacity is not None else {})
    sources = [k for k in ("clone_from", "backing_image", "import_from") if params.get(k)]
    if len(sources) > 1:
        raise LimitError(sources[1], params[sources[1]], f"not together with {sources[0]}")
    size = parse_size(params["size"], "size", 1) if params.get("size") is not None else None
    if params["state"] == "absent":
        if capacity is not None:
            plan.add("delete", target)
        return plan
    if capacity is None:
        if size is None and not sources:
            raise LimitError("size", None, "a size such as 10G for a new volume (or clone_from, backing_image or import_from)")
        how = sources[0] if sources else "size"
        plan.add("create", target, [Change("size", None, format_size(size))] if size else [], reason=f"a new volume ({how})")
        plan.after = {"name": name, "pool": params["pool"], "size": format_size(size), "format": params.get("format") or "qcow2"}
        return plan
    plan.after = dict(plan.before)
    if size is not None and size != capacity:
        if size < capacity:
            raise LimitError("size", params["size"], f"at least the volume's current {format_size(capacity)}; volumes are never shrunk")
        plan.add("update", target, [Change("size", format_size(capacity), format_size(size))], reason="volumes only grow")
        plan.after["size"] = format_size(size)
    return plan


def run_volume(module: Any) -> None:
    from ansible_collections.hyperdock.platform.plugins.module_utils._libvirt_apply import create_volume

    params = module.params
    conn = lv.open_for(module)
    with lv.reporting(module, conn, "name", params["name"]):
        pool = _lookup_pool(conn, params["pool"])
        if pool is None:
            raise lv.BackendError("pool", params["pool"], "no such storage pool")
        if pool.isActive():
            pool.refresh(0)
        vol = None
        try:
            vol = pool.storageVolLookupByName(params["name"])
        except lv.libvirt.libvirtError as exc:
            if not lv.no_such(exc):
                raise
        fmt = None
        if vol is not None:
            node = ET.fromstring(vol.XMLDesc(0)).find("target/format")
            fmt = node.get("type") if node is not None else None
        plan = plan_volume(params, vol.info()[1] if vol is not None else None, fmt)
        if plan.changed and not module.check_mode:
            kind = plan.actions[0].kind
            size = parse_size(params["size"], "size") if params.get("size") is not None else None
            if kind == "delete":
                vol.delete(0)
            elif kind == "update":
                vol.resize(size, 0)
            elif params.get("clone_from") or params.get("import_from"):
                _copy_volume(conn, pool, params, size)
            else:
                create_volume(conn, params["pool"], params["name"], None, size, params.get("backing_image"), "name")
    lv.exit_with_plan(module, plan, volume=plan.after)


def _copy_volume(conn: Any, pool: Any, params: dict[str, Any], size: int | None) -> None:
    """A full copy: clone_from another volume (by path or pool/name), or import_from a local file."""
    fmt = params.get("format") or "qcow2"
    root = ET.Element("volume")
    ET.SubElement(root, "name").text = params["name"]
    if params.get("clone_from"):
        source = params["clone_from"]
        try:
            src = conn.storageVolLookupByPath(source) if source.startswith("/") else pool.storageVolLookupByName(source)
        except lv.libvirt.libvirtError as exc:
            raise lv.BackendError("clone_from", source, lv.error_text(exc)) from None
        ET.SubElement(root, "capacity", unit="bytes").text = str(max(size or 0, src.info()[1]))
        ET.SubElement(ET.SubElement(root, "target"), "format", type=fmt)
        pool.createXMLFrom(ET.tostring(root, encoding="unicode"), src, 0)
        return
    path = params["import_from"]
    if not os.path.isfile(path):
        raise lv.BackendError("import_from", path, "no such local file")
    length = os.path.getsize(path)
    ET.SubElement(root, "capacity", unit="bytes").text = str(max(size or 0, length))
    from ansible_collections.hyperdock.platform.plugins.module_utils._libvirt_apply import image_info

    detected = image_info(path).get("format", "raw")
    ET.SubElement(ET.SubElement(root, "target"), "format", type=params.get("format") or detected)
    vol = pool.createXML(ET.tostring(root, encoding="unicode"), 0)
    stream = conn.newStream(0)
    vol.upload(stream, 0, length, 0)
    with open(path, "rb") as handle:
        stream.sendAll(lambda _s, n, fh: fh.read(n), handle)
    stream.finish()
