"""Network and storage planners (pure) and their appliers against libvirt's in-memory test driver."""

from __future__ import annotations

import pytest

from ansible_collections.hyperdock.platform.plugins.module_utils import _libvirt_network as netmod
from ansible_collections.hyperdock.platform.plugins.module_utils import _libvirt_storage as st
from ansible_collections.hyperdock.platform.plugins.module_utils._units import LimitError

libvirt = pytest.importorskip("libvirt")

NET = dict(name="lab", state="active", mode="nat", bridge="virbr-lab", address="192.168.150.1/24",
           dhcp_range={"start": "192.168.150.100", "end": "192.168.150.200"},
           hosts=[{"mac": "52:54:00:00:00:10", "ip": "192.168.150.10", "name": "web1"}], autostart=True)


def net_cycle(conn, params):
    net, actual, active, autostart = netmod.read(conn, params["name"])
    nplan = netmod.plan_network(params, actual, active, autostart)
    if nplan.plan.changed:
        netmod.apply(conn, net, nplan)
    return nplan


def test_network_render_parse_round_trip():
    spec = netmod.desired_spec(NET, None)
    assert netmod.view(netmod.parse(netmod.render(spec))) == netmod.view(spec)


def test_network_lifecycle_on_the_test_driver():
    conn = libvirt.open("test:///default")
    try:
        first = net_cycle(conn, NET)
        assert [a.kind for a in first.plan.actions] == ["create", "update", "start"]
        assert net_cycle(conn, NET).plan.actions == []
        hosts = dict(NET, hosts=NET["hosts"] + [{"mac": "52:54:00:00:00:11", "ip": "192.168.150.11"}])
        live = net_cycle(conn, hosts)
        assert [a.kind for a in live.plan.actions] == ["update_live"] and live.pending_restart == []
        assert "52:54:00:00:00:11" in conn.networkLookupByName("lab").XMLDesc(0)
        assert net_cycle(conn, hosts).plan.actions == []
        moved = net_cycle(conn, dict(hosts, address="192.168.151.1/24", dhcp_range={"start": "192.168.151.2", "end": "192.168.151.9"}))
        assert moved.pending_restart == ["address", "dhcp_range"]
        gone = net_cycle(conn, dict(NET, state="absent"))
        assert [a.kind for a in gone.plan.actions] == ["delete"]
        assert net_cycle(conn, dict(NET, state="absent")).plan.actions == []
    finally:
        conn.close()


@pytest.mark.parametrize("params,message", [
    ({"address": "192.168.150.1"}, r"^address: '192.168.150.1' is not valid"),
    ({"dhcp_range": {"start": "10.0.0.2", "end": "10.0.0.9"}}, r"^dhcp_range.start: '10.0.0.2' .*inside 192.168.150.0/24"),
    ({"hosts": [{"mac": "nope", "ip": "192.168.150.3"}]}, r"^hosts\[0\].mac: 'nope'"),
    ({"mode": "bridge", "bridge": None, "address": None, "dhcp_range": None}, r"^bridge: None is not valid"),
])
def test_network_bad_input(params, message):
    with pytest.raises(LimitError, match=message):
        netmod.plan_network(dict(NET, **params), None, False, False)


def test_pool_planner():
    params = dict(name="p", state="active", type="dir", path="/srv/p", autostart=None, source_name=None, devices=None, build=False)
    plan = st.plan_pool(params, None, False, False)
    assert [a.kind for a in plan.actions] == ["create", "start"]
    xml = st.pool_xml(params)
    assert st.plan_pool(params, xml, True, False).actions == []
    assert [a.kind for a in st.plan_pool(dict(params, state="inactive"), xml, True, False).actions] == ["stop"]
    assert [a.kind for a in st.plan_pool(dict(params, state="absent"), xml, True, False).actions] == ["delete"]
    with pytest.raises(LimitError, match=r"^path: None"):
        st.plan_pool(dict(params, path=None), None, False, False)


def test_volume_planner_never_shrinks_nor_deletes_implicitly():
    base = dict(name="v.qcow2", pool="p", state="present", size="1G", clone_from=None, backing_image=None, import_from=None, format=None)
    assert [a.kind for a in st.plan_volume(base, None, None).actions] == ["create"]
    assert st.plan_volume(base, 1024 ** 3, "qcow2").actions == []
    assert st.plan_volume(dict(base, size=None), 1024 ** 3, "qcow2").actions == []
    grow = st.plan_volume(dict(base, size="2G"), 1024 ** 3, "qcow2")
    assert grow.as_list()[0]["changes"]["size"] == {"before": "1G", "after": "2G"}
    with pytest.raises(LimitError, match=r"^size: '512M' .*never shrunk"):
        st.plan_volume(dict(base, size="512M"), 1024 ** 3, "qcow2")
    with pytest.raises(LimitError, match=r"^size: '2X'"):
        st.plan_volume(dict(base, size="2X"), None, None)
    with pytest.raises(LimitError, match=r"^size: None .*for a new volume"):
        st.plan_volume(dict(base, size=None), None, None)
    assert [a.kind for a in st.plan_volume(dict(base, state="absent"), 1024 ** 3, "qcow2").actions] == ["delete"]
    assert st.plan_volume(dict(base, state="absent"), None, None).actions == []
