"""hyperdock.platform.network as real Ansible tasks against qemu:///system."""

from __future__ import annotations

import uuid

import pytest

libvirt = pytest.importorskip("libvirt")
pytestmark = pytest.mark.slow
NAME = f"hdk-it-{uuid.uuid4().hex[:5]}"


@pytest.fixture
def cleanup(libvirtd: str):
    yield
    conn = libvirt.open("qemu:///system")
    try:
        net = conn.networkLookupByName(NAME)
        if net.isActive():
            net.destroy()
        net.undefine()
    except libvirt.libvirtError:
        pass
    finally:
        conn.close()


def test_isolated_network_with_reservations(run_task, cleanup):
    args = {"name": NAME, "mode": "isolated", "bridge": f"vb{NAME[-5:]}", "address": "10.251.7.1/24",
            "dhcp_range": {"start": "10.251.7.100", "end": "10.251.7.150"},
            "hosts": [{"mac": "52:54:00:00:07:10", "ip": "10.251.7.10", "name": "web1"}]}
    assert run_task("hyperdock.platform.network", args, check=True)["changed"]
    created = run_task("hyperdock.platform.network", args)
    assert [a["action"] for a in created["actions"]] == ["create", "start"]
    assert run_task("hyperdock.platform.network", args)["changed"] is False

    more = dict(args, hosts=args["hosts"] + [{"mac": "52:54:00:00:07:11", "ip": "10.251.7.11"}])
    predicted = run_task("hyperdock.platform.network", more, check=True)
    result = run_task("hyperdock.platform.network", more)
    assert result["actions"] == predicted["actions"] and [a["action"] for a in result["actions"]] == ["update_live"]
    conn = libvirt.open("qemu:///system")
    try:
        net = conn.networkLookupByName(NAME)
        assert "52:54:00:00:07:11" in net.XMLDesc(0) and "52:54:00:00:07:11" in net.XMLDesc(libvirt.VIR_NETWORK_XML_INACTIVE)
    finally:
        conn.close()
    assert run_task("hyperdock.platform.network", more)["changed"] is False

    bad = run_task("hyperdock.platform.network", dict(args, dhcp_range={"start": "10.9.9.1", "end": "10.9.9.2"}), expect_failure=True)
    assert "dhcp_range.start: '10.9.9.1' is not valid" in bad["msg"]

    assert run_task("hyperdock.platform.network", {"name": NAME, "state": "absent"})["changed"]
    assert run_task("hyperdock.platform.network", {"name": NAME, "state": "absent"})["changed"] is False
