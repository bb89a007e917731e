# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt networks: spec <-> XML, a pure planner, and the applier behind the ``network`` module.

DHCP host reservations are changed live (``virNetworkUpdate``) and persisted;
any other change is persisted and reported in ``pending_restart``, because
restarting a network cuts the guests attached to it.
"""

from __future__ import annotations

import ipaddress
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.hyperdock.platform.plugins.module_utils import _libvirt as lv
from ansible_collections.hyperdock.platform.plugins.module_utils._plan import Change, Plan
from ansible_collections.hyperdock.platform.plugins.module_utils._units import LimitError

MODES = ("nat", "route", "isolated", "bridge")


@dataclass
class NetworkSpec:
    name: str
    mode: str = "nat"
    bridge: str | None = None
    address: str | None = None  # the host side, CIDR: 192.168.150.1/24
    dhcp_start: str | None = None
    dhcp_end: str | None = None
    hosts: list[dict[str, str]] = field(default_factory=list)  # {mac, ip, name}
    uuid: str | None = None


def view(spec: NetworkSpec) -> dict[str, Any]:
    dhcp = {"start": spec.dhcp_start, "end": spec.dhcp_end} if spec.dhcp_start else None
    return {"mode": spec.mode, "bridge": spec.bridge, "address": spec.address, "dhcp_range": dhcp,
            "hosts": sorted(spec.hosts, key=lambda h: h["mac"])}


def parse(xml: str) -> NetworkSpec:
    root = ET.fromstring(xml)
    spec = NetworkSpec(name=root.findtext("name", ""), uuid=root.findtext("uuid"))
    forward = root.find("forward")
    spec.mode = "isolated" if forward is None else forward.get("mode", "nat")
    bridge = root.find("bridge")
    spec.bridge = bridge.get("name") if bridge is not None else None
    ip = root.find("ip")
    if ip is not None and ip.get("address"):
        prefix = ip.get("prefix") or str(ipaddress.IPv4Network(f"0.0.0.0/{ip.get('netmask', '255.255.255.0')}").prefixlen)
        spec.address = f"{ip.get('address')}/{prefix}"
        rng = ip.find("dhcp/range")
        if rng is not None:
            spec.dhcp_start, spec.dhcp_end = rng.get("start"), rng.get("end")
        spec.hosts = [{k: h.get(k) for k in ("mac", "ip", "name") if h.get(k)} for h in ip.findall("dhcp/host")]
        for host in spec.hosts:
            host["mac"] = host.get("mac", "").lower()
    return spec


def host_xml(host: dict[str, str]) -> str:
    elem = ET.Element("host", {k: host[k] for k in ("mac", "name", "ip") if host.get(k)})
    return ET.tostring(elem, encoding="unicode")


def render(spec: NetworkSpec) -> str:
    root = ET.Element("network")
    ET.SubElement(root, "name").text = spec.name
    if spec.uuid:
        ET.SubElement(root, "uuid").text = spec.uuid
    if spec.mode != "isolated":
        ET.SubElement(root, "forward", {"mode": spec.mode})
    if spec.bridge:
        attrs = {"name": spec.bridge}
        if spec.mode != "bridge":
            attrs.update(stp="on", delay="0")
        ET.SubElement(root, "bridge", attrs)
    if spec.address and spec.mode != "bridge":
        iface = ipaddress.IPv4Interface(spec.address)
        ip = ET.SubElement(root, "ip", {"address": str(iface.ip), "prefix": str(iface.network.prefixlen)})
        if spec.dhcp_start or spec.hosts:
            dhcp = ET.SubElement(ip, "dhcp")
            if spec.dhcp_start:
                ET.SubElement(dhcp, "range", {"start": spec.dhcp_start, "end": spec.dhcp_end or spec.dhcp_start})
            for host in sorted(spec.hosts, key=lambda h: h["mac"]):
                dhcp.append(ET.fromstring(host_xml(host)))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode")


def desired_spec(params: dict[str, Any], actual: NetworkSpec | None) -> NetworkSpec:
    """The network the user asks for; options not set keep their actual value. Raises LimitError."""
    spec = NetworkSpec(name=params["name"], uuid=actual.uuid if actual else None)
    base = actual or NetworkSpec(name=params["name"])
    spec.mode = params.get("mode") or base.mode
    spec.bridge = params.get("bridge") or base.bridge
    if spec.mode == "bridge" and not spec.bridge:
        raise LimitError("bridge", None, "the name of an existing host bridge when mode=bridge")
    address = params.get("address")
    if address is not None:
        try:
            iface = ipaddress.IPv4Interface(address)
        except ValueError:
            raise LimitError("address", address, "the host address with a prefix, such as 192.168.150.1/24") from None
        if iface.network.prefixlen == 32:
            raise LimitError("address", address, "the host address with a prefix, such as 192.168.150.1/24")
        spec.address = str(iface)
    else:
        spec.address = base.address
    dhcp = params.get("dhcp_range")
    if dhcp is not None:
        net = ipaddress.IPv4Interface(spec.address).network if spec.address else None
        for key in ("start", "end"):
            try:
                ip = ipaddress.IPv4Address(dhcp.get(key) or "")
            except ValueError:
                raise LimitError(f"dhcp_range.{key}", dhcp.get(key), "an IPv4 address inside address's network") from None
            if net is None or ip not in net:
                raise LimitError(f"dhcp_range.{key}", dhcp.get(key), f"an IPv4 address inside {net or 'address (which is not set)'}")
        spec.dhcp_start, spec.dhcp_end = dhcp["start"], dhcp["end"]
    else:
        spec.dhcp_start, spec.dhcp_end = base.dhcp_start, base.dhcp_end
    hosts = params.get("hosts")
    if hosts is not None:
        spec.hosts = []
        for index, host in enumerate(hosts):
            mac = str(host.get("mac") or "").lower()
            if len(mac.split(":")) != 6:
                raise LimitError(f"hosts[{index}].mac", host.get("mac"), "a MAC address such as 52:54:00:12:34:56")
            try:
                ipaddress.IPv4Address(host.get("ip") or "")
            except ValueError:
                raise LimitError(f"hosts[{index}].ip", host.get("ip"), "an IPv4 address") from None
            spec.hosts.append({k: v for k, v in (("mac", mac), ("ip", host["ip"]), ("name", host.get("name"))) if v})
    else:
        spec.hosts = list(base.hosts)
    return spec


@dataclass
class NetworkPlan:
    plan: Plan
    target: NetworkSpec | None
    autostart: bool | None = None
    hosts_add: list[dict[str, str]] = field(default_factory=list)
    hosts_del: list[dict[str, str]] = field(default_factory=list)
    pending_restart: list[str] = field(default_factory=list)


def plan_network(params: dict[str, Any], actual: NetworkSpec | None, active: bool, autostart: bool) -> NetworkPlan:
    """Pure: desired options + actual network -> plan."""
    name, state = params["name"], params["state"]
    plan = Plan(before=dict(view(actual), active=active, autostart=autostart) if actual else {})
    if state == "absent":
        if actual is not None:
            plan.add("delete", name)
        return NetworkPlan(plan=plan, target=None)
    target = desired_spec(params, actual)
    result = NetworkPlan(plan=plan, target=target)
    if actual is None:
        plan.add("create", name, [Change(k, None, v) for k, v in view(target).items() if v not in (None, [])])
    else:
        before, after = view(actual), view(target)
        changes = [Change(k, before[k], after[k]) for k in after if before[k] != after[k]]
        other = [c for c in changes if c.option != "hosts"]
        hosts = [c for c in changes if c.option == "hosts"]
        if hosts and active and not other:
            old = {h["mac"]: h for h in actual.hosts}
            new = {h["mac"]: h for h in target.hosts}
            result.hosts_del = [h for m, h in old.items() if new.get(m) != h]
            result.hosts_add = [h for m, h in new.items() if old.get(m) != h]
            plan.add("update_live", name, hosts, reason="DHCP reservations change live and are persisted")
        elif changes:
            if active:
                plan.add("update_next_boot", name, changes, reason="persisted; takes effect when the network restarts")
                result.pending_restart = [c.option for c in changes]
            else:
                plan.add("update", name, changes)
    wanted = params.get("autostart")
    if wanted is not None and wanted != autostart:
        plan.add("update", name, [Change("autostart", autostart, wanted)])
        result.autostart = wanted
    if state == "active" and not active:
        plan.add("start", name)
    elif state == "inactive" and active:
        plan.add("stop", name)
    now_active = state == "active" or (state == "present" and active)
    plan.after = dict(view(target), active=now_active, autostart=wanted if wanted is not None else autostart)
    return result


def read(conn: Any, name: str) -> tuple[Any, NetworkSpec | None, bool, bool]:
    try:
        net = conn.networkLookupByName(name)
    except lv.libvirt.libvirtError as exc:
        if lv.no_such(exc):
            return None, None, False, False
        raise
    try:
        xml = net.XMLDesc(lv.libvirt.VIR_NETWORK_XML_INACTIVE)
    except lv.libvirt.libvirtError:
        xml = net.XMLDesc(0)  # the test driver knows no INACTIVE flag
    return net, parse(xml), bool(net.isActive()), bool(net.autostart())


def apply(conn: Any, net: Any, nplan: NetworkPlan) -> None:
    kinds = {a.kind for a in nplan.plan.actions}
    if "delete" in kinds:
        if net.isActive():
            net.destroy()
        net.undefine()
        return
    if kinds & {"create", "update_next_boot"} or any(c.option != "autostart" for a in nplan.plan.of_kind("update") for c in a.changes):
        net = conn.networkDefineXML(render(nplan.target))
    if "update_live" in kinds:
        flags = lv.libvirt.VIR_NETWORK_UPDATE_AFFECT_LIVE | lv.libvirt.VIR_NETWORK_UPDATE_AFFECT_CONFIG
        section = lv.libvirt.VIR_NETWORK_SECTION_IP_DHCP_HOST
        for host in nplan.hosts_del:
            net.update(lv.libvirt.VIR_NETWORK_UPDATE_COMMAND_DELETE, section, -1, host_xml(host), flags)
        for host in nplan.hosts_add:
            net.update(lv.libvirt.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, section, -1, host_xml(host), flags)
    if nplan.autostart is not None:
        net.setAutostart(1 if nplan.autostart else 0)
    if "start" in kinds:
        net.create()
    if "stop" in kinds:
        net.destroy()


def run(module: Any) -> None:
    params = module.params
    conn = lv.open_for(module)
    with lv.reporting(module, conn, "name", params["name"]):
        net, actual, active, autostart = read(conn, params["name"])
        nplan = plan_network(params, actual, active, autostart)
        if nplan.plan.changed and not module.check_mode:
            apply(conn, net, nplan)
    lv.exit_with_plan(module, nplan.plan, pending_restart=nplan.pending_restart, network=nplan.plan.after)
