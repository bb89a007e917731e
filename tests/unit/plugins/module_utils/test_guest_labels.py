"""Guest labels: XML round trips, the pure planner, and plan == real run against libvirt's test driver.

Labels live in the domain's <metadata> as <hyperdock:labels xmlns:hyperdock="https://hyperdock.dev/xmlns/guest/1">;
every other metadata element must come back exactly as it was.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.hyperdock.platform.plugins.module_utils._libvirt_domain import (
    LABELS_URI,
    DomainSpec,
    apply_overlay,
    labels_metadata,
    parse,
    render,
    view,
)
from ansible_collections.hyperdock.platform.plugins.module_utils._libvirt_plan import (
    Actual,
    parse_request,
    plan_guest,
    target_spec,
)
from ansible_collections.hyperdock.platform.plugins.module_utils._units import LimitError

libvirt = pytest.importorskip("libvirt")

OSINFO_URI = "http://libosinfo.org/xmlns/libvirt/domain/1.0"
OSINFO = f'<libosinfo:libosinfo xmlns:libosinfo="{OSINFO_URI}"><libosinfo:os id="http://debian.org/debian/12"/></libosinfo:libosinfo>'
QEMU_URI = "http://libvirt.org/schemas/domain/qemu/1.0"
ODD_VALUES = {"amp": "a & b < c > d", "quotes": "it's \"x\"", "unicode": "ü€ 🐳", "spaces": "  padded  ", "blank": "",
              "lines": "one\ntwo\tthree", "markup": "{{ not_a_template }}"}


def spec(**labels: str) -> DomainSpec:
    return DomainSpec(name="g", domain_type="test", labels=dict(labels))


def metadata_children(xml: str) -> list[ET.Element]:
    metadata = ET.fromstring(xml).find("metadata")
    return list(metadata) if metadata is not None else []


# ---------------------------------------------------------------- XML


def test_labels_render_in_our_namespace_and_parse_back():
    xml = render(spec(role="docker", tier="web"))
    assert f'<hyperdock:labels xmlns:hyperdock="{LABELS_URI}">' in xml
    assert '<hyperdock:label name="role">docker</hyperdock:label>' in xml
    assert "ns0" not in xml
    assert parse(xml).labels == {"role": "docker", "tier": "web"}
    assert view(parse(xml))["labels"] == {"role": "docker", "tier": "web"}


def test_odd_values_survive_the_round_trip():
    assert parse(render(spec(**ODD_VALUES))).labels == ODD_VALUES


def test_no_labels_means_no_metadata_element():
    assert "<metadata" not in render(spec())
    assert parse(render(spec())).labels == {}


def test_other_metadata_is_kept_exactly_with_its_own_prefix():
    base = render(spec(role="docker")).replace("<metadata>", "<metadata>" + OSINFO)
    assert [e.tag for e in metadata_children(base)] == [f"{{{OSINFO_URI}}}libosinfo", f"{{{LABELS_URI}}}labels"]
    for labels in ({"role": "web", "extra": "1"}, {}):
        xml = render(spec(**labels), base)
        assert f'<libosinfo:libosinfo xmlns:libosinfo="{OSINFO_URI}">' in xml
        assert '<libosinfo:os id="http://debian.org/debian/12" />' in xml
        assert parse(xml).labels == labels
    # Emptied of our labels, the metadata keeps the other element, first as before.
    assert [e.tag for e in metadata_children(render(spec(), base))] == [f"{{{OSINFO_URI}}}libosinfo"]


def test_labels_are_replaced_in_place():
    base = render(spec(role="docker")).replace("</metadata>", OSINFO + "</metadata>")
    xml = render(spec(role="web"), base)
    assert [e.tag for e in metadata_children(xml)] == [f"{{{LABELS_URI}}}labels", f"{{{OSINFO_URI}}}libosinfo"]


def test_namespaced_elements_outside_metadata_keep_their_prefix():
    base = render(spec()).replace("<domain ", f'<domain xmlns:qemu="{QEMU_URI}" ').replace(
        "</devices>", '</devices><qemu:commandline><qemu:arg value="-no-hpet"/></qemu:commandline>')
    xml = render(spec(role="docker"), base)
    assert f'xmlns:qemu="{QEMU_URI}"' in xml and '<qemu:arg value="-no-hpet" />' in xml
    assert apply_overlay(xml, "<domain><on_crash>restart</on_crash></domain>").count("<qemu:arg ") == 1


def test_labels_set_by_libvirt_without_our_prefix_are_read():
    xml = render(spec()).replace("<name>g</name>", f'<name>g</name><metadata><labels xmlns="{LABELS_URI}">'
                                 '<label name="role">docker</label></labels></metadata>')
    assert parse(xml).labels == {"role": "docker"}


def test_set_metadata_snippet_has_no_namespace():
    assert labels_metadata({}) is None
    snippet = labels_metadata({"b": "2", "a": "1"})
    assert snippet == '<labels><label name="a">1</label><label name="b">2</label></labels>'


def test_libvirt_keeps_our_xml_and_the_other_metadata():
    """What render writes, libvirt's own parser reads back the same: labels, and the other element untouched."""
    base = render(spec(role="docker")).replace("<metadata>", "<metadata>" + OSINFO)
    conn = libvirt.open("test:///default")
    try:
        dom = conn.defineXML(render(DomainSpec(name="labels-xml", domain_type="test", labels=ODD_VALUES), base))
        try:
            xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
            assert parse(xml).labels == ODD_VALUES
            assert f'<libosinfo:libosinfo xmlns:libosinfo="{OSINFO_URI}">' in xml
            assert "<metadata xmlns" not in xml  # no namespaces moved up to <metadata> or <domain>
        finally:
            dom.undefine()
    finally:
        conn.close()


# ---------------------------------------------------------------- planner (pure)

BASE = dict(name="g", vcpus=1, memory="256M", disks=[], interfaces=[])


def existing(state: str = "shutoff", **labels: str) -> Actual:
    req = parse_request(dict(BASE, labels=labels))
    inactive = parse(render(target_spec(req, None, "kvm")))
    return Actual(inactive=inactive, live=parse(render(inactive)) if state != "shutoff" else None, state=state)


def plan(params: dict, actual: Actual):
    return plan_guest(parse_request(dict(BASE, **params)), actual, "kvm")


def changes(gplan) -> list[tuple[str, str, object, object]]:
    return [(a.kind, c.option, c.before, c.after) for a in gplan.plan.actions for c in a.changes]


def test_new_guest_is_created_with_its_labels():
    gp = plan({"labels": {"role": "docker"}}, Actual())
    assert ("create", "labels", None, {"role": "docker"}) in changes(gp)
    assert gp.target.labels == {"role": "docker"} and gp.plan.after["labels"] == {"role": "docker"}


def test_labels_not_given_are_left_alone_and_empty_removes_them():
    actual = existing(role="docker")
    assert plan({}, actual).plan.actions == []
    assert changes(plan({"labels": {}}, actual)) == [("update", "labels", {"role": "docker"}, {})]


def test_same_labels_in_another_order_are_no_change():
    actual = existing(role="docker", tier="web")
    assert plan({"labels": {"tier": "web", "role": "docker"}}, actual).plan.actions == []


def test_labels_change_live_on_a_running_guest():
    gp = plan({"labels": {"role": "web"}}, existing("running", role="docker"))
    assert changes(gp) == [("update_live", "labels", {"role": "docker"}, {"role": "web"})]
    assert gp.applied_live == ["labels"] and gp.pending_reboot == []
    assert gp.plan.diff()["before"]["labels"] == {"role": "docker"} and gp.plan.diff()["after"]["labels"] == {"role": "web"}


def test_labels_set_live_only_are_also_persisted():
    actual = existing("running", role="docker")
    actual.live.labels = {"role": "changed-by-hand"}
    assert changes(plan({"labels": {"role": "docker"}}, actual)) == [
        ("update_live", "labels", {"role": "changed-by-hand"}, {"role": "docker"})]


def test_apply_next_boot_only_persists_labels():
    gp = plan({"labels": {"role": "web"}, "apply": "next_boot"}, existing("running", role="docker"))
    assert [a.kind for a in gp.plan.actions] == ["update_next_boot"] and gp.pending_reboot == ["labels"]


def test_labels_never_cause_a_reboot():
    gp = plan({"labels": {"role": "web"}, "apply": "reboot"}, existing("running", role="docker"))
    assert [a.kind for a in gp.plan.actions] == ["update_live"]


@pytest.mark.parametrize("labels,message", [
    (["role=docker"], r"^labels: \['role=docker'\] is not valid; expected a mapping"),
    ({"bad name": "x"}, r"^labels: \{'bad name': 'x'\} is not valid; expected label names made of letters"),
    ({"rôle": "x"}, r"^labels: \{'rôle': 'x'\} is not valid"),
    ({"": "x"}, r"^labels: \{'': 'x'\} is not valid"),
    ({"role": 5}, r"^labels.role: 5 is not valid; expected a string"),
    ({"debug": True}, r"^labels.debug: True is not valid; expected a string"),
    ({"role": None}, r"^labels.role: None is not valid"),
    ({"role": ["a"]}, r"^labels.role: \['a'\] is not valid"),
    ({"role": "a\rb"}, r"^labels.role: 'a\\rb' is not valid; expected .*without control characters"),
])
def test_bad_labels_name_the_option_key_and_value(labels, message):
    with pytest.raises(LimitError, match=message):
        parse_request(dict(BASE, labels=labels))


# ---------------------------------------------------------------- check mode == real run (test:///default)

_names = itertools.count()
LIVE, CONFIG = libvirt.VIR_DOMAIN_AFFECT_LIVE, libvirt.VIR_DOMAIN_AFFECT_CONFIG


def metadata_labels(dom, flag: int) -> dict[str, str]:
    try:
        xml = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, LABELS_URI, flag)
    except libvirt.libvirtError:
        return {}
    return {e.get("name"): e.text or "" for e in ET.fromstring(xml)}


@pytest.mark.parametrize("running", [False, True], ids=["shutoff", "running"])
@pytest.mark.parametrize("before,after", [
    ({}, {"role": "docker"}),
    ({"role": "docker"}, {"role": "web", "tier": "a b"}),
    ({"role": "docker", "tier": "web"}, {}),
    ({}, ODD_VALUES),
], ids=["add", "change", "remove", "odd-values"])
def test_check_mode_predicts_the_real_run(before, after, running):
    from ansible_collections.hyperdock.platform.plugins.module_utils import _libvirt_apply as ap

    name = f"labels{next(_names)}"
    base = dict(BASE, name=name, state="running" if running else "present", labels=before)
    conn = libvirt.open("test:///default")
    try:
        req = parse_request(base)
        ap.apply_plan(conn, req, plan_guest(req, ap.read_actual(conn, req), "test"), 5, True, False)
        dom = conn.lookupByName(name)
        # Someone else's metadata, live and persistent: the module must not touch it.
        dom.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, '<os id="x"/>', "libosinfo", OSINFO_URI,
                        CONFIG | (LIVE if running else 0))
        req = parse_request(dict(base, labels=after))
        predicted = plan_guest(req, ap.read_actual(conn, req), "test")
        assert [a.kind for a in predicted.plan.actions] == ["update_live" if running else "update"]
        ap.apply_plan(conn, req, predicted, 5, True, False)
        assert metadata_labels(dom, CONFIG) == after
        if running:
            assert metadata_labels(dom, LIVE) == after
        replan = plan_guest(req, ap.read_actual(conn, req), "test")
        assert replan.plan.actions == [], replan.plan.as_list()
        assert replan.plan.before == predicted.plan.after
        for flag in (CONFIG, LIVE) if running else (CONFIG,):
            assert dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, OSINFO_URI, flag) == '<os id="x"/>'
    finally:
        conn.close()


def test_guest_info_reports_labels_and_usage_only_when_running():
    from ansible_collections.hyperdock.platform.plugins.module_utils import _libvirt_apply as ap

    name = f"labels{next(_names)}"
    conn = libvirt.open("test:///default")
    try:
        dom = conn.defineXML(render(DomainSpec(name=name, domain_type="test", labels={"role": "docker"})))
        info = ap.guest_info(conn, dom)
        assert info["labels"] == {"role": "docker"} and info["usage"] is None
        dom.create()
        info = ap.guest_info(conn, dom)
        assert info["live"]["labels"] == {"role": "docker"}
        usage = info["usage"]
        assert set(usage) == {"cpu_time_seconds", "memory_used", "memory_used_bytes", "memory_rss", "memory_rss_bytes", "disks"}
        assert isinstance(usage["cpu_time_seconds"], float) and usage["cpu_time_seconds"] >= 0
        assert (usage["memory_rss"] is None) == (usage["memory_rss_bytes"] is None)
        bare = ap.guest_info(conn, conn.defineXML(render(DomainSpec(name=name + "b", domain_type="test"))))
        assert bare["labels"] == {}
    finally:
        conn.close()


def test_usage_is_in_the_size_vocabulary():
    from ansible_collections.hyperdock.platform.plugins.module_utils import _libvirt_apply as ap

    class Dom:
        def info(self):
            return [1, 0, 0, 1, 1_500_000_000]

        def memoryStats(self):
            return {"rss": 184320}

        def blockInfo(self, target):
            if target == "sda":
                raise libvirt.libvirtError("no medium")
            return [2 * 1024 ** 3, 5 * 1024 ** 2, 5 * 1024 ** 2]

    live = parse(render(DomainSpec(name="g")))
    live.disks = [type("D", (), {"target": "vda"})(), type("D", (), {"target": "sda"})()]
    assert ap.guest_usage(Dom(), live) == {
        "cpu_time_seconds": 1.5, "memory_used": None, "memory_used_bytes": None,
        "memory_rss": "180M", "memory_rss_bytes": 180 * 1024 ** 2,
        "disks": [{"target": "vda", "allocation": "5M", "allocation_bytes": 5 * 1024 ** 2}]}


@pytest.mark.parametrize("stats, used", [
    # libvirt 4.6+: the guest's MemAvailable
    ({"actual": 1572864, "available": 1530000, "usable": 1230000, "unused": 900000, "rss": 2200000}, 300000 * 1024),
    # older guests report MemFree only
    ({"actual": 786432, "available": 760000, "unused": 500000}, 260000 * 1024),
    # no balloon statistics (no stats period, or no driver in the guest): not known
    ({"actual": 786432, "rss": 1700000}, None),
    # a report that cannot be right is not passed on
    ({"available": 1000, "usable": 2000}, None),
])
def test_memory_in_use_from_the_balloon_statistics(stats, used):
    from ansible_collections.hyperdock.platform.plugins.module_utils import _libvirt_apply as ap

    assert ap.memory_in_use(stats) == used
