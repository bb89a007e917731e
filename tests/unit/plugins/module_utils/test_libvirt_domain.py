"""Domain XML build/parse, overlay, hypervisor choice and Xen XML (validated with virt-xml-validate)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ansible_collections.hyperdock.platform.plugins.module_utils import _libvirt as lv
from ansible_collections.hyperdock.platform.plugins.module_utils._libvirt_domain import (
    Disk,
    DomainSpec,
    Interface,
    XmlError,
    apply_overlay,
    default_target,
    machine_matches,
    parse,
    render,
    stable_mac,
    view,
)
from ansible_collections.hyperdock.platform.plugins.module_utils._libvirt_plan import parse_request, target_spec

libvirt = pytest.importorskip("libvirt")
G = 1024 ** 3


def full_spec(domain_type: str = "kvm") -> DomainSpec:
    return DomainSpec(
        name="web1", domain_type=domain_type, vcpus=2, max_vcpus=4, memory=G, max_memory=2 * G,
        cpu_mode="host-passthrough", machine="q35", firmware="bios", cpu_shares=1024, cpu_quota=50000,
        cpu_period=100000, cpu_pinning={0: "0", 1: "0-1"}, memory_hard_limit=3 * G, memory_soft_limit=2 * G,
        swap_hard_limit=4 * G, blkio_weight=300,
        disks=[Disk(target="vda", path="/var/lib/libvirt/images/web1.qcow2", format="qcow2", bus="virtio", cache="none",
                    iotune={"total_bytes_sec": 50 * 1024 ** 2, "total_iops_sec": 500}),
               Disk(target="vdb", pool="default", volume="data.qcow2", format="qcow2", bus="virtio")],
        interfaces=[Interface(network="default", mac="52:54:00:aa:bb:cc", model="virtio"),
                    Interface(bridge="br0", mac="52:54:00:aa:bb:cd", model="virtio")],
    )


def test_render_then_parse_gives_the_same_spec():
    spec = full_spec()
    assert view(parse(render(spec))) == view(spec)


def test_view_uses_the_module_vocabulary():
    v = view(full_spec())
    assert v["memory"] == "1G" and v["max_memory"] == "2G" and v["memory_hard_limit"] == "3G"
    assert v["disks"][0]["iotune"] == {"total_bytes_sec": "50M", "total_iops_sec": 500}
    assert v["cpu_pinning"] == {"0": "0", "1": "0-1"}


def test_render_over_existing_xml_keeps_unmodelled_devices_and_addresses():
    base = render(full_spec()).replace(
        "</devices>", "<graphics type='vnc' port='-1'/><video><model type='vga'/></video></devices>")
    base = base.replace('<target dev="vda" bus="virtio" />',
                        '<target dev="vda" bus="virtio" /><address type="pci" domain="0x0000" bus="0x04" slot="0x00" function="0x0"/>')
    spec = full_spec()
    spec.memory = 2 * G
    out = render(spec, base)
    assert "<graphics" in out and "<video>" in out and 'bus="0x04"' in out
    assert view(parse(out))["memory"] == "2G"


def test_parse_reads_units_and_current_vcpus():
    xml = """<domain type='qemu'><name>a</name><memory unit='MiB'>1024</memory><currentMemory unit='KiB'>524288</currentMemory>
    <vcpu placement='static' current='1'>3</vcpu><os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type><loader type='pflash'/></os></domain>"""
    spec = parse(xml)
    assert (spec.max_memory, spec.memory, spec.vcpus, spec.max_vcpus) == (G, G // 2, 1, 3)
    assert spec.firmware == "uefi" and spec.machine == "pc-q35-7.2"


def test_parse_of_garbage_names_the_option():
    with pytest.raises(XmlError, match=r"^xml: "):
        parse("<domain")


def test_overlay_merges_by_tag_and_identity():
    xml = render(full_spec())
    out = apply_overlay(xml, "<domain><features><hyperv><relaxed state='on'/></hyperv></features>"
                             "<devices><rng model='virtio'><backend model='random'>/dev/urandom</backend></rng></devices></domain>")
    assert "<relaxed state=\"on\"" in out and "<rng model=\"virtio\">" in out
    assert view(parse(out)) == view(full_spec())


@pytest.mark.parametrize("overlay,match", [("<domain><devices>", "not well-formed"), ("<network/>", "root element must be <domain>")])
def test_malformed_overlay_names_the_option(overlay, match):
    with pytest.raises(XmlError, match="^xml: .*" + match):
        apply_overlay(render(full_spec()), overlay)


def test_stable_mac_is_deterministic_and_local():
    assert stable_mac("web1", 0) == stable_mac("web1", 0)
    assert stable_mac("web1", 0) != stable_mac("web1", 1) != stable_mac("web2", 1)
    assert stable_mac("web1", 0).startswith("52:54:00:")
    assert stable_mac("web1", 0, "xen").startswith("00:16:3e:")


def test_targets_and_machine_aliases():
    assert [default_target("virtio", i) for i in (0, 1, 25, 26)] == ["vda", "vdb", "vdz", "vdaa"]
    assert default_target("xen", 0) == "xvda" and default_target("sata", 2) == "sdc"
    assert machine_matches("pc-q35-7.2", "q35") and machine_matches("pc-i440fx-7.2", "pc")
    assert not machine_matches("pc-i440fx-7.2", "q35")


def test_round_trip_through_the_test_driver():
    conn = libvirt.open("test:///default")
    try:
        spec = full_spec("test")
        spec.name = "rt-domain"
        spec.disks = [d for d in spec.disks if d.path]  # the test driver has no pool named "default"
        dom = conn.defineXML(render(spec))
        back = view(parse(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)))
        assert back == view(spec)
        dom.undefine()
    finally:
        conn.close()


# ---------------------------------------------------------------- Xen

XEN_CASES = {
    "pv-kernel": dict(xen_mode="pv", kernel="/var/lib/xen/images/vmlinuz", initrd="/var/lib/xen/images/initrd.img",
                      cmdline="console=hvc0 root=/dev/xvda1"),
    "pv-pygrub": dict(xen_mode="pv", bootloader="pygrub"),
    "pvh": dict(xen_mode="pvh", kernel="/var/lib/xen/images/vmlinuz", cmdline="console=hvc0"),
    "hvm": dict(xen_mode="hvm"),
}


def xen_xml(case: str) -> tuple[DomainSpec, str]:
    params = dict(name=f"xen-{case}", hypervisor="xen", vcpus=2, max_vcpus=4, memory="1G", max_memory="2G",
                  cpu_shares=512, disks=[{"path": "/var/lib/xen/images/a.qcow2", "size": "8G"}],
                  interfaces=[{"bridge": "xenbr0"}], **XEN_CASES[case])
    spec = target_spec(parse_request(params), None, "xen")
    return spec, render(spec)


@pytest.mark.parametrize("case", sorted(XEN_CASES))
def test_xen_xml_validates_against_libvirt_schema(case, tmp_path):
    if shutil.which("virt-xml-validate") is None:
        pytest.fail("virt-xml-validate is not installed (apt-get install libvirt-clients)")
    spec, xml = xen_xml(case)
    path = tmp_path / "domain.xml"
    path.write_text(xml)
    proc = subprocess.run(["virt-xml-validate", str(path), "domain"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr + xml
    assert view(parse(xml)) == view(spec)
    assert spec.interfaces[0].mac.startswith("00:16:3e:")


def test_xen_os_types():
    assert "<type arch=\"x86_64\">linux</type>" in xen_xml("pv-kernel")[1]
    assert "<bootloader>pygrub</bootloader>" in xen_xml("pv-pygrub")[1]
    assert "<type arch=\"x86_64\">xenpvh</type>" in xen_xml("pvh")[1]
    hvm = xen_xml("hvm")[1]
    assert "<type arch=\"x86_64\">hvm</type>" in hvm and "hvmloader" in hvm


@pytest.mark.parametrize("case", sorted(XEN_CASES))
def test_xen_xml_round_trips_through_the_test_driver(case):
    """The test driver cannot run type='xen', so the same document is defined as type='test'."""
    spec, xml = xen_xml(case)
    conn = libvirt.open("test:///default")
    try:
        dom = conn.defineXML(xml.replace('<domain type="xen">', '<domain type="test">'))
        back = parse(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        ours = view(spec)
        theirs = view(back)
        # The test driver keeps neither the Xen guest type nor, for os type linux/xenpvh, the direct
        # kernel boot elements; those are covered by the schema validation above.
        for key in ("hypervisor", "xen_mode", "kernel", "initrd", "cmdline"):
            ours.pop(key)
            theirs.pop(key)
        assert theirs == ours
        dom.undefine()
    finally:
        conn.close()


# ---------------------------------------------------------------- hypervisor choice


def test_choose_hypervisor_falls_back_to_tcg_when_the_probe_fails():
    class Conn:
        def getURI(self):
            return "qemu:///system"

        def getCapabilities(self):
            return "<capabilities><guest><arch name='x86_64'><domain type='qemu'/><domain type='kvm'/></arch></guest></capabilities>"

    choice = lv.choose_hypervisor(Conn(), "auto", kvm_probe=lambda: (False, "firmware hung"))
    assert choice.domain_type == "qemu" and "firmware hung" in choice.reason and "TCG" in choice.reason
    assert lv.choose_hypervisor(Conn(), "auto", kvm_probe=lambda: (True, "works")).domain_type == "kvm"
    assert lv.choose_hypervisor(Conn(), "xen").domain_type == "xen"


def test_choose_hypervisor_on_the_test_driver():
    conn = libvirt.open("test:///default")
    try:
        assert lv.choose_hypervisor(conn, "auto").domain_type == "test"
    finally:
        conn.close()


def test_connect_to_an_unreachable_uri_names_the_option():
    with pytest.raises(lv.BackendError, match=r"^uri: 'qemu\+unix:///system\?socket=/nonexistent/hdk\.sock': cannot connect to libvirt"):
        lv.connect("qemu+unix:///system?socket=/nonexistent/hdk.sock")


# The KVM probe's verdict, from firmware boots measured on real machines.
KVM_CASES = [
    # (kvm boot, tcg boot, usable, words in the reason)
    (lv.FirmwareBoot(True, 0.08, ""), lv.FirmwareBoot(True, 0.07, ""), True, "works"),
    # nested KVM that POSTs 40 times slower than emulation (AMD EPYC, qemu64 CPU), then hangs in the kernel
    (lv.FirmwareBoot(True, 2.92, ""), lv.FirmwareBoot(True, 0.07, ""), False, "crawls"),
    # nested KVM that refuses the host's CPU (IA32_ARCH_CAPABILITIES)
    (lv.FirmwareBoot(False, 0.03, "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69"),
     lv.FirmwareBoot(True, 0.07, ""), False, "MSR 0x10a"),
    # nested KVM that hangs in the firmware
    (lv.FirmwareBoot(False, 5.0, "SeaBIOS (version 1.16.2)"), lv.FirmwareBoot(True, 0.07, ""), False, "within 5s"),
    # TCG itself did not POST: nothing to compare with, KVM's own POST decides
    (lv.FirmwareBoot(True, 0.3, ""), lv.FirmwareBoot(False, 5.0, ""), True, "works"),
]


@pytest.mark.parametrize("kvm, tcg, usable, words", KVM_CASES)
def test_kvm_verdict(kvm, tcg, usable, words):
    ok, reason = lv.kvm_verdict(kvm, tcg, 5.0)
    assert ok is usable
    assert words in reason


def test_kvm_probe_cache_ignores_an_older_probes_answer(tmp_path, monkeypatch):
    boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    cache = tmp_path / "probe.json"
    cache.write_text(json.dumps({"boot_id": boot_id, "ok": True, "reason": "old probe said yes"}))
    monkeypatch.setattr(lv, "kvm_usable", lambda: (False, "new probe says no"))
    assert lv.kvm_usable_cached(str(cache)) == (False, "new probe says no")
    assert json.loads(cache.read_text())["probe"] == lv.KVM_PROBE_VERSION
    # The answer is now kept for this boot: the probe does not run again.
    monkeypatch.setattr(lv, "kvm_usable", lambda: pytest.fail("probed twice"))
    assert lv.kvm_usable_cached(str(cache))[0] is False
