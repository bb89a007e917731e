# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Domain XML, built from a typed spec and parsed back into the same spec.

:func:`render` writes a :class:`DomainSpec` into domain XML (on top of the
existing XML when there is one, so devices we do not model, and PCI addresses,
survive), and :func:`parse` reads domain XML back into a :class:`DomainSpec`.
Both sides of a comparison go through :func:`view`, which writes a spec in the
guest module's own vocabulary (``2G``, ``0-1``), so the planner compares
meaning, not strings.

Guest labels live in the domain's ``<metadata>`` under our own namespace
(:data:`LABELS_URI`); every other metadata element is kept as it was, with its
own namespace prefix.
"""

from __future__ import annotations

import hashlib
import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from typing import Any

from ansible_collections.hyperdock.platform.plugins.module_utils._units import format_cpuset, format_size

KIB = 1024
IOTUNE_KEYS = ("total_bytes_sec", "read_bytes_sec", "write_bytes_sec", "total_iops_sec", "read_iops_sec", "write_iops_sec")
BYTE_IOTUNE_KEYS = IOTUNE_KEYS[:3]
# Seconds between the memory statistics a new KVM/QEMU guest reports through its virtio balloon.
BALLOON_STATS_PERIOD = 10
TARGET_PREFIX = {"virtio": "vd", "scsi": "sd", "sata": "sd", "usb": "sd", "ide": "hd", "xen": "xvd"}
# libvirt expands these machine aliases to the newest versioned machine.
MACHINE_ALIASES = {"pc": "pc-i440fx-", "q35": "pc-q35-"}
XEN_OS_TYPES = {"pv": "linux", "pvh": "xenpvh", "hvm": "hvm"}
XEN_HVMLOADER = "/usr/lib/xen/boot/hvmloader"
# Guest labels: <hyperdock:labels xmlns:hyperdock=LABELS_URI><hyperdock:label name="role">docker</hyperdock:label>...
LABELS_URI = "https://hyperdock.dev/xmlns/guest/1"
LABELS_PREFIX = "hyperdock"
XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace"


class XmlError(ValueError):
    """Domain XML (or an ``xml`` overlay) that cannot be read; names the option."""

    def __init__(self, option: str, message: str) -> None:
        self.option = option
        super().__init__(f"{option}: {message}")


@dataclass
class Disk:
    target: str | None = None
    path: str | None = None
    pool: str | None = None
    volume: str | None = None
    format: str | None = None
    bus: str | None = None
    cache: str | None = None
    device: str = "disk"
    readonly: bool = False
    iotune: dict[str, int] = field(default_factory=dict)

    def key(self) -> str:
        return self.target or self.path or f"{self.pool}/{self.volume}"


@dataclass
class Interface:
    network: str | None = None
    bridge: str | None = None
    mac: str | None = None
    model: str | None = None


@dataclass
class DomainSpec:
    """A guest as the module sees it: every value normalised (bytes, ints, sorted)."""

    name: str
    uuid: str | None = None
    domain_type: str = "kvm"
    xen_mode: str | None = None
    arch: str = "x86_64"
    vcpus: int = 1
    max_vcpus: int = 1
    memory: int = 512 * 1024 ** 2
    max_memory: int = 512 * 1024 ** 2
    cpu_mode: str | None = None
    cpu_model: str | None = None
    machine: str | None = None
    firmware: str = "bios"
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str | None = None
    bootloader: str | None = None
    disks: list[Disk] = field(default_factory=list)
    interfaces: list[Interface] = field(default_factory=list)
    cpu_shares: int | None = None
    cpu_quota: int | None = None
    cpu_period: int | None = None
    cpu_pinning: dict[int, str] = field(default_factory=dict)
    memory_hard_limit: int | None = None
    memory_soft_limit: int | None = None
    swap_hard_limit: int | None = None
    blkio_weight: int | None = None
    labels: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------- helpers


def stable_mac(name: str, index: int, domain_type: str = "kvm") -> str:
    """A MAC in QEMU's 52:54:00 range (Xen's 00:16:3e on Xen), the same for a name and index forever."""
    digest = hashlib.sha256(f"{name}/{index}".encode()).digest()
    prefix = "00:16:3e:" if domain_type == "xen" else "52:54:00:"
    return prefix + ":".join(f"{b:02x}" for b in digest[:3])


def default_target(bus: str, index: int) -> str:
    prefix = TARGET_PREFIX.get(bus, "vd")
    letters = ""
    n = index
    while True:
        letters = chr(ord("a") + n % 26) + letters
        n = n // 26 - 1
        if n < 0:
            return prefix + letters


def machine_matches(actual: str | None, wanted: str | None) -> bool:
    """``pc`` matches the ``pc-i440fx-7.2`` that libvirt expanded it to."""
    if wanted is None or actual == wanted:
        return True
    prefix = MACHINE_ALIASES.get(wanted)
    return bool(actual and prefix and actual.startswith(prefix))


def _int(text: str | None) -> int | None:
    return int(text) if text not in (None, "") else None


def _kib(elem: ET.Element | None) -> int | None:
    """A libvirt size element (``unit`` attribute, KiB by default) in bytes."""
    if elem is None or elem.text is None:
        return None
    units = {"b": 1, "bytes": 1, "k": KIB, "kib": KIB, "kb": 1000, "m": KIB ** 2, "mib": KIB ** 2, "mb": 1000 ** 2,
             "g": KIB ** 3, "gib": KIB ** 3, "gb": 1000 ** 3, "t": KIB ** 4, "tib": KIB ** 4, "tb": 1000 ** 4}
    return int(elem.text.strip()) * units.get(elem.get("unit", "KiB").lower(), KIB)


# ---------------------------------------------------------------- parse


def parse(xml: str) -> DomainSpec:
    """Read domain XML into a :class:`DomainSpec`."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise XmlError("xml", f"libvirt returned domain XML that cannot be parsed ({exc})") from None
    spec = DomainSpec(name=root.findtext("name", ""), uuid=root.findtext("uuid"), domain_type=root.get("type", "kvm"))
    os_type = root.find("os/type")
    if os_type is not None:
        spec.arch = os_type.get("arch", spec.arch)
        spec.machine = os_type.get("machine")
        if spec.domain_type == "xen":
            spec.xen_mode = {v: k for k, v in XEN_OS_TYPES.items()}.get(os_type.text or "hvm", "hvm")
    os_elem = root.find("os")
    loader = root.find("os/loader")
    if (os_elem is not None and os_elem.get("firmware") == "efi") or (loader is not None and loader.get("type") == "pflash"):
        spec.firmware = "uefi"
    spec.kernel = root.findtext("os/kernel")
    spec.initrd = root.findtext("os/initrd")
    spec.cmdline = root.findtext("os/cmdline")
    spec.bootloader = root.findtext("bootloader")
    vcpu = root.find("vcpu")
    if vcpu is not None and vcpu.text:
        spec.max_vcpus = int(vcpu.text)
        spec.vcpus = int(vcpu.get("current", vcpu.text))
    spec.max_memory = _kib(root.find("memory")) or spec.max_memory
    spec.memory = _kib(root.find("currentMemory")) or spec.max_memory
    cpu = root.find("cpu")
    if cpu is not None:
        spec.cpu_mode = cpu.get("mode")
        spec.cpu_model = cpu.findtext("model")
        if spec.cpu_mode == "custom" and spec.cpu_model is None:
            spec.cpu_mode = None
    tune = root.find("cputune")
    if tune is not None:
        spec.cpu_shares = _int(tune.findtext("shares"))
        spec.cpu_quota = _int(tune.findtext("quota"))
        spec.cpu_period = _int(tune.findtext("period"))
        spec.cpu_pinning = {int(p.get("vcpu", "0")): format_cpuset(_cpus(p.get("cpuset", ""))) or ""
                            for p in tune.findall("vcpupin")}
    mem = root.find("memtune")
    if mem is not None:
        spec.memory_hard_limit = _kib(mem.find("hard_limit"))
        spec.memory_soft_limit = _kib(mem.find("soft_limit"))
        spec.swap_hard_limit = _kib(mem.find("swap_hard_limit"))
    spec.blkio_weight = _int(root.findtext("blkiotune/weight"))
    for elem in root.findall("devices/disk"):
        spec.disks.append(_parse_disk(elem))
    for elem in root.findall("devices/interface"):
        source = elem.find("source")
        mac = elem.find("mac")
        model = elem.find("model")
        spec.interfaces.append(Interface(
            network=source.get("network") if source is not None and elem.get("type") == "network" else None,
            bridge=source.get("bridge") if source is not None and elem.get("type") == "bridge" else None,
            mac=mac.get("address").lower() if mac is not None and mac.get("address") else None,
            model=model.get("type") if model is not None else None))
    spec.labels = _parse_labels(root)
    return spec


def _parse_labels(root: ET.Element) -> dict[str, str]:
    elem = root.find(f"metadata/{{{LABELS_URI}}}labels")
    if elem is None:
        return {}
    # libvirt puts the children of an element given to virDomainSetMetadata in its namespace; accept bare ones too.
    tags = (f"{{{LABELS_URI}}}label", "label")
    return {child.get("name", ""): child.text or "" for child in elem if child.tag in tags and child.get("name")}


def _cpus(text: str) -> tuple[int, ...]:
    cpus: set[int] = set()
    for part in text.split(","):
        if not part or part.startswith("^"):
            continue
        low, _sep, high = part.partition("-")
        cpus.update(range(int(low), int(high or low) + 1))
    return tuple(sorted(cpus))


def _parse_disk(elem: ET.Element) -> Disk:
    source = elem.find("source")
    target = elem.find("target")
    driver = elem.find("driver")
    disk = Disk(device=elem.get("device", "disk"), readonly=elem.find("readonly") is not None)
    if target is not None:
        disk.target = target.get("dev")
        disk.bus = target.get("bus")
    if source is not None:
        if elem.get("type") == "volume":
            disk.pool, disk.volume = source.get("pool"), source.get("volume")
        else:
            disk.path = source.get("file") or source.get("dev")
    if driver is not None:
        disk.format = driver.get("type")
        disk.cache = driver.get("cache")
    iotune = elem.find("iotune")
    if iotune is not None:
        disk.iotune = {key: int(iotune.findtext(key) or 0) for key in IOTUNE_KEYS if iotune.findtext(key)}
        disk.iotune = {k: v for k, v in disk.iotune.items() if v}
    return disk


# ---------------------------------------------------------------- render


def _child(parent: ET.Element, tag: str, before: tuple[str, ...] = ()) -> ET.Element:
    """The first ``tag`` child of ``parent``, created (before any ``before`` sibling) when missing."""
    elem = parent.find(tag)
    if elem is None:
        elem = ET.Element(tag)
        for index, sibling in enumerate(list(parent)):
            if sibling.tag in before:
                parent.insert(index, elem)
                return elem
        parent.append(elem)
    return elem


def _drop(parent: ET.Element, tag: str) -> None:
    for elem in parent.findall(tag):
        parent.remove(elem)


def _set_text(parent: ET.Element, tag: str, value: object | None, **attrs: str) -> None:
    if value is None:
        _drop(parent, tag)
        return
    elem = _child(parent, tag)
    elem.text = str(value)
    elem.attrib.clear()
    elem.attrib.update(attrs)


def render(spec: DomainSpec, base: str | None = None) -> str:
    """Domain XML for ``spec``, written over ``base`` (existing XML) when given."""
    root = ET.fromstring(base) if base else ET.Element("domain")
    root.set("type", spec.domain_type)
    _set_text(root, "name", spec.name)
    if spec.uuid:
        _set_text(root, "uuid", spec.uuid)
    _set_text(root, "memory", spec.max_memory // KIB, unit="KiB")
    _set_text(root, "currentMemory", spec.memory // KIB, unit="KiB")
    vcpu = _child(root, "vcpu")
    vcpu.text = str(spec.max_vcpus)
    vcpu.attrib.clear()
    vcpu.set("placement", "static")
    if spec.vcpus != spec.max_vcpus:
        vcpu.set("current", str(spec.vcpus))
    _render_labels(root, spec.labels)
    _render_tuning(root, spec)
    _render_os(root, spec)
    _render_cpu(root, spec)
    devices = _child(root, "devices")
    _render_disks(devices, spec)
    _render_interfaces(devices, spec)
    if base is None:
        _render_defaults(root, devices, spec)
    _reorder(root)
    return _tostring(root, _prefixes(base))


# libvirt accepts its top-level elements in any order, but humans read the dumpxml order.
_ORDER = ("name", "uuid", "title", "description", "metadata", "memory", "currentMemory", "blkiotune", "memtune",
          "vcpu", "iothreads", "cputune", "resource", "sysinfo", "bootloader", "bootloader_args", "os", "features",
          "cpu", "clock", "on_poweroff", "on_reboot", "on_crash", "pm", "devices")


def _reorder(root: ET.Element) -> None:
    children = list(root)
    rank = {tag: i for i, tag in enumerate(_ORDER)}
    children.sort(key=lambda e: rank.get(e.tag, len(_ORDER)))
    root[:] = children


def labels_element(labels: dict[str, str], namespace: str = LABELS_URI) -> ET.Element:
    """``<labels><label name="role">docker</label>...</labels>``, sorted by name, in ``namespace`` (none when empty)."""
    ns = f"{{{namespace}}}" if namespace else ""
    elem = ET.Element(f"{ns}labels")
    for name, value in sorted(labels.items()):
        ET.SubElement(elem, f"{ns}label", {"name": name}).text = value
    return elem


def labels_metadata(labels: dict[str, str]) -> str | None:
    """The ``metadata`` argument of virDomainSetMetadata for ``labels``: libvirt adds the namespace itself,
    and refuses a snippet that declares it.  None removes the element."""
    return ET.tostring(labels_element(labels, ""), encoding="unicode") if labels else None


def _render_labels(root: ET.Element, labels: dict[str, str]) -> None:
    metadata = root.find("metadata")
    old = metadata.find(f"{{{LABELS_URI}}}labels") if metadata is not None else None
    if labels:
        if metadata is None:
            metadata = _child(root, "metadata")
        new = labels_element(labels)
        if old is None:
            metadata.append(new)
        else:  # in place: the other metadata elements keep their order
            metadata[list(metadata).index(old)] = new
    elif old is not None:
        metadata.remove(old)
    if metadata is not None and not len(metadata):
        root.remove(metadata)


def _prefixes(xml: str | None) -> dict[str, str]:
    """The prefix each namespace URI has in ``xml`` (the first one, when it has several)."""
    found: dict[str, str] = {LABELS_URI: LABELS_PREFIX}
    if xml:
        for _event, (prefix, uri) in ET.iterparse(io.StringIO(xml), events=("start-ns",)):
            if prefix and uri != LABELS_URI:
                found.setdefault(uri, prefix)
    return found


def _declare_namespaces(elem: ET.Element, prefixes: dict[str, str]) -> None:
    """Write ``elem``'s namespaced names with their own prefixes, declared on ``elem`` itself.

    ElementTree would rename every prefix to ``ns0``, ``ns1``... and declare them all on the root element.
    libvirt keeps metadata as it is given, so another tool's ``<libosinfo:libosinfo xmlns:libosinfo=...>``
    would come back renamed; written this way it stays exactly as it was.
    """
    declared: dict[str, str] = {}

    def qualified(name: str) -> str:
        if not name.startswith("{"):
            return name
        uri, local = name[1:].split("}", 1)
        if uri == XML_NAMESPACE:
            return f"xml:{local}"  # bound by XML itself, never declared
        if uri not in declared:
            prefix = prefixes.get(uri) or "ns0"
            number = 0
            while prefix in declared.values():
                number += 1
                prefix = f"ns{number}"
            declared[uri] = prefix
        return f"{declared[uri]}:{local}"

    for node in elem.iter():
        if not isinstance(node.tag, str):
            continue  # comments and processing instructions
        node.tag = qualified(node.tag)
        for key in [k for k in node.attrib if k.startswith("{")]:
            node.attrib[qualified(key)] = node.attrib.pop(key)
    for uri, prefix in declared.items():
        elem.set(f"xmlns:{prefix}", uri)


def _tostring(root: ET.Element, prefixes: dict[str, str]) -> str:
    """Domain XML as text: each metadata element declares its own namespace (as libvirt writes it), anything
    else namespaced (such as ``qemu:commandline``) is declared on ``<domain>``."""
    metadata = root.find("metadata")
    for elem in list(metadata) if metadata is not None else []:
        _declare_namespaces(elem, prefixes)
    _declare_namespaces(root, prefixes)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode")


def _render_tuning(root: ET.Element, spec: DomainSpec) -> None:
    tune = _child(root, "cputune")
    _set_text(tune, "shares", spec.cpu_shares)
    _set_text(tune, "period", spec.cpu_period)
    _set_text(tune, "quota", spec.cpu_quota)
    _drop(tune, "vcpupin")
    for vcpu_id, cpuset in sorted(spec.cpu_pinning.items()):
        ET.SubElement(tune, "vcpupin", {"vcpu": str(vcpu_id), "cpuset": cpuset})
    if not len(tune):
        root.remove(tune)
    mem = _child(root, "memtune")
    for tag in ("hard_limit", "soft_limit", "swap_hard_limit"):
        value = getattr(spec, "memory_" + tag if tag != "swap_hard_limit" else tag)
        _set_text(mem, tag, None if value is None else value // KIB, unit="KiB")
    if not len(mem):
        root.remove(mem)
    blkio = _child(root, "blkiotune")
    _set_text(blkio, "weight", spec.blkio_weight)
    if not len(blkio):
        root.remove(blkio)


def _render_os(root: ET.Element, spec: DomainSpec) -> None:
    os_elem = _child(root, "os")
    os_type = _child(os_elem, "type")
    os_type.set("arch", spec.arch)
    if spec.domain_type == "xen":
        os_type.text = XEN_OS_TYPES[spec.xen_mode or "hvm"]
        os_type.attrib.pop("machine", None)
        if spec.xen_mode in (None, "hvm"):
            _set_text(os_elem, "loader", XEN_HVMLOADER)
        else:
            _drop(os_elem, "loader")
    else:
        os_type.text = "hvm"
        if spec.machine:
            os_type.set("machine", spec.machine)
    if spec.firmware == "uefi" and spec.domain_type != "xen":
        os_elem.set("firmware", "efi")
    else:
        os_elem.attrib.pop("firmware", None)
        for loader in os_elem.findall("loader"):
            if loader.get("type") == "pflash":
                os_elem.remove(loader)
        _drop(os_elem, "nvram")
    for tag in ("kernel", "initrd", "cmdline"):
        _set_text(os_elem, tag, getattr(spec, tag))
    if not spec.kernel and spec.domain_type != "xen" and os_elem.find("boot") is None:
        ET.SubElement(os_elem, "boot", {"dev": "hd"})
    if spec.kernel:
        _drop(os_elem, "boot")
    _set_text(root, "bootloader", spec.bootloader)


def _render_cpu(root: ET.Element, spec: DomainSpec) -> None:
    if spec.cpu_mode is None and spec.cpu_model is None:
        _drop(root, "cpu")
        return
    cpu = _child(root, "cpu")
    cpu.attrib.clear()
    cpu.set("mode", spec.cpu_mode or "custom")
    if spec.cpu_model:
        _set_text(cpu, "model", spec.cpu_model, fallback="allow")
    else:
        _drop(cpu, "model")


def _render_disks(devices: ET.Element, spec: DomainSpec) -> None:
    existing = {(_parse_disk(e).target or ""): e for e in devices.findall("disk")}
    for elem in devices.findall("disk"):
        devices.remove(elem)
    insert_at = _first_index(devices, ("controller", "interface", "serial", "console", "input", "graphics", "video"))
    for offset, disk in enumerate(spec.disks):
        elem = existing.get(disk.target or "")
        address = elem.find("address") if elem is not None else None
        new = ET.Element("disk", {"type": "volume" if disk.pool else "file", "device": disk.device})
        # libxl serves qcow2 through its qdisk (QEMU) backend too, so both speak "qemu" here.
        driver_attrs = {"name": "qemu"} if spec.domain_type in ("kvm", "qemu", "xen") else {}
        if disk.format:
            driver_attrs["type"] = disk.format
        if disk.cache:
            driver_attrs["cache"] = disk.cache
        if driver_attrs:
            ET.SubElement(new, "driver", driver_attrs)
        if disk.pool:
            ET.SubElement(new, "source", {"pool": disk.pool, "volume": disk.volume or ""})
        elif disk.path:
            ET.SubElement(new, "source", {"file": disk.path})
        target_attrs = {"dev": disk.target or ""}
        if disk.bus:
            target_attrs["bus"] = disk.bus
        ET.SubElement(new, "target", target_attrs)
        if disk.iotune:
            iotune = ET.SubElement(new, "iotune")
            for key in IOTUNE_KEYS:
                if disk.iotune.get(key):
                    ET.SubElement(iotune, key).text = str(disk.iotune[key])
        if disk.readonly or disk.device == "cdrom":
            ET.SubElement(new, "readonly")
        if address is not None:
            new.append(address)
        devices.insert(insert_at + offset, new)


def _first_index(parent: ET.Element, tags: tuple[str, ...]) -> int:
    for index, child in enumerate(list(parent)):
        if child.tag in tags:
            return index
    return len(parent)


def _render_interfaces(devices: ET.Element, spec: DomainSpec) -> None:
    existing = {}
    for elem in devices.findall("interface"):
        mac = elem.find("mac")
        if mac is not None and mac.get("address"):
            existing[mac.get("address").lower()] = elem
        devices.remove(elem)
    insert_at = _first_index(devices, ("serial", "console", "input", "graphics", "video", "memballoon"))
    for offset, nic in enumerate(spec.interfaces):
        old = existing.get((nic.mac or "").lower())
        new = ET.Element("interface", {"type": "bridge" if nic.bridge else "network"})
        if nic.mac:
            ET.SubElement(new, "mac", {"address": nic.mac})
        ET.SubElement(new, "source", {"bridge": nic.bridge} if nic.bridge else {"network": nic.network or ""})
        if nic.model:
            ET.SubElement(new, "model", {"type": nic.model})
        if old is not None and old.find("address") is not None:
            new.append(old.find("address"))
        devices.insert(insert_at + offset, new)


def _render_defaults(root: ET.Element, devices: ET.Element, spec: DomainSpec) -> None:
    """What a new guest gets besides the modelled options: a serial console and sane power events."""
    for tag, value in (("on_poweroff", "destroy"), ("on_reboot", "restart"), ("on_crash", "destroy")):
        _set_text(root, tag, value)
    if spec.domain_type == "xen":
        ET.SubElement(devices, "console", {"type": "pty"})
        return
    if spec.domain_type in ("kvm", "qemu"):
        features = _child(root, "features")
        ET.SubElement(features, "acpi")
        ET.SubElement(features, "apic")
    serial = ET.SubElement(devices, "serial", {"type": "pty"})
    ET.SubElement(serial, "target", {"port": "0"})
    console = ET.SubElement(devices, "console", {"type": "pty"})
    ET.SubElement(console, "target", {"type": "serial", "port": "0"})
    if spec.domain_type in ("kvm", "qemu"):
        # The guest reports its memory statistics every few seconds: what it has in use, for guest_info.
        balloon = ET.SubElement(devices, "memballoon", {"model": "virtio"})
        ET.SubElement(balloon, "stats", {"period": str(BALLOON_STATS_PERIOD)})


# ---------------------------------------------------------------- overlay


def apply_overlay(xml: str, overlay: str) -> str:
    """Merge the ``xml`` option into domain XML: elements are matched by tag (and ``dev``/``name``/``type``
    attributes when present), attributes and text of the overlay win, and unmatched elements are added."""
    try:
        extra = ET.fromstring(overlay)
    except ET.ParseError as exc:
        raise XmlError("xml", f"the overlay is not well-formed XML ({exc})") from None
    if extra.tag != "domain":
        raise XmlError("xml", f"the overlay's root element must be <domain>, not <{extra.tag}>")
    root = ET.fromstring(xml)
    _merge(root, extra)
    return _tostring(root, {**_prefixes(overlay), **_prefixes(xml)})


def _identity(elem: ET.Element) -> tuple[str, ...]:
    return (elem.tag, *tuple(f"{k}={elem.get(k)}" for k in ("dev", "name", "type") if elem.get(k) is not None))


def _merge(base: ET.Element, extra: ET.Element) -> None:
    base.attrib.update(extra.attrib)
    if extra.text and extra.text.strip():
        base.text = extra.text
    for child in extra:
        match = next((c for c in base if _identity(c) == _identity(child)), None)
        if match is None:
            base.append(child)
        else:
            _merge(match, child)


# ---------------------------------------------------------------- view


def disk_view(disk: Disk) -> dict[str, Any]:
    view: dict[str, Any] = {"target": disk.target, "device": disk.device, "bus": disk.bus, "format": disk.format,
                            "cache": disk.cache}
    if disk.pool:
        view.update(pool=disk.pool, volume=disk.volume)
    else:
        view["path"] = disk.path
    if disk.readonly and disk.device != "cdrom":
        view["readonly"] = True
    view["iotune"] = {k: (format_size(v) if k in BYTE_IOTUNE_KEYS else v) for k, v in sorted(disk.iotune.items())}
    return {k: v for k, v in view.items() if v is not None}


def interface_view(nic: Interface) -> dict[str, Any]:
    view = {"network": nic.network, "bridge": nic.bridge, "mac": nic.mac, "model": nic.model}
    return {k: v for k, v in view.items() if v is not None}


def view(spec: DomainSpec) -> dict[str, Any]:
    """``spec`` in the guest module's vocabulary: what ``--diff``, ``guest_info`` and the planner show."""
    return {
        "hypervisor": spec.domain_type,
        "xen_mode": spec.xen_mode,
        "vcpus": spec.vcpus,
        "max_vcpus": spec.max_vcpus,
        "memory": format_size(spec.memory),
        "max_memory": format_size(spec.max_memory),
        "cpu_mode": spec.cpu_mode,
        "cpu_model": spec.cpu_model,
        "machine": spec.machine,
        "firmware": spec.firmware,
        "kernel": spec.kernel,
        "initrd": spec.initrd,
        "cmdline": spec.cmdline,
        "bootloader": spec.bootloader,
        "cpu_shares": spec.cpu_shares,
        "cpu_quota": spec.cpu_quota,
        "cpu_period": spec.cpu_period,
        "cpu_pinning": {str(k): v for k, v in sorted(spec.cpu_pinning.items())},
        "memory_hard_limit": format_size(spec.memory_hard_limit),
        "memory_soft_limit": format_size(spec.memory_soft_limit),
        "swap_hard_limit": format_size(spec.swap_hard_limit),
        "blkio_weight": spec.blkio_weight,
        "disks": [disk_view(d) for d in spec.disks],
        "interfaces": [interface_view(n) for n in spec.interfaces],
        "labels": dict(sorted(spec.labels.items())),
    }


def copy_spec(spec: DomainSpec) -> DomainSpec:
    return replace(spec, disks=[replace(d, iotune=dict(d.iotune)) for d in spec.disks],
                   interfaces=[replace(n) for n in spec.interfaces], cpu_pinning=dict(spec.cpu_pinning),
                   labels=dict(spec.labels))
