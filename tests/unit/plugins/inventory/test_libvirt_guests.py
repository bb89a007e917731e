"""The libvirt_guests inventory plugin, parsing in this process against libvirt's test driver.

test:///default is one in-memory hypervisor per process, kept while a connection is open: the `hypervisor`
fixture holds one, defines the guests (labels written in their metadata), and the plugin opens its own.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleError, AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader

from ansible_collections.hyperdock.platform.plugins.module_utils._libvirt_domain import (
    LABELS_URI,
    DomainSpec,
    Interface,
    labels_metadata,
    render,
)

libvirt = pytest.importorskip("libvirt")

ROOT = Path(__file__).resolve().parents[4]
NAME = "hyperdock.platform.libvirt_guests"
URI = "test:///default"
# test:///default always has a running guest called "test", with no labels.
GUESTS = {
    "inv-web": {"labels": {"role": "docker", "tier": "web"}, "running": True, "memory": 512 * 1024 ** 2, "vcpus": 2},
    "inv-db": {"labels": {"role": "db", "team-a": "x y", "flag": ""}, "running": False, "memory": 1024 ** 3, "vcpus": 1},
    "inv-plain": {"labels": {}, "running": False, "memory": 256 * 1024 ** 2, "vcpus": 1},
}


def load_plugin():
    """A new instance of the plugin, as Ansible loads it (its documented options known to the config manager).

    The loader needs Ansible's collection finder; tests/conftest.py puts .collections on sys.path, so the
    collection may already be imported as a plain package, without the metadata the finder attaches to it.
    """
    from ansible.plugins.loader import init_plugin_loader, inventory_loader
    from ansible.utils.collection_loader import AnsibleCollectionConfig

    if AnsibleCollectionConfig.collection_finder is None:
        init_plugin_loader([str(ROOT / ".collections")])
    package = sys.modules.get("ansible_collections.hyperdock.platform")
    if package is not None and getattr(package, "_collection_meta", None) is None:
        package._collection_meta = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())
    plugin = inventory_loader.get(NAME)
    assert plugin is not None, f"{NAME} did not load"
    return plugin


@pytest.fixture(scope="module")
def hypervisor():
    conn = libvirt.open(URI)
    doms = []
    try:
        for name, guest in GUESTS.items():
            spec = DomainSpec(name=name, domain_type="test", memory=guest["memory"], max_memory=guest["memory"],
                              vcpus=guest["vcpus"], max_vcpus=guest["vcpus"],
                              interfaces=[Interface(network="default", mac=f"52:54:00:00:10:{len(doms):02x}")])
            dom = conn.defineXML(render(spec))
            doms.append(dom)
            if guest["labels"]:  # through the API, as the guest module does on a running guest
                dom.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, labels_metadata(guest["labels"]), "hyperdock",
                                LABELS_URI, libvirt.VIR_DOMAIN_AFFECT_CONFIG)
            if guest["running"]:
                dom.create()
        yield conn
    finally:
        for dom in doms:
            try:
                if dom.isActive():
                    dom.destroy()
                dom.undefine()
            except libvirt.libvirtError:
                pass
        conn.close()


def run(tmp_path: Path, config: dict, cache: bool = True, filename: str = "test.libvirt_guests.yml") -> InventoryData:
    """Parse a configuration the way ansible-inventory does (parse, then write the cache), return the inventory."""
    path = tmp_path / filename
    path.write_text(yaml.safe_dump(dict({"plugin": NAME, "uris": [URI]}, **config)))
    plugin = load_plugin()
    assert plugin.verify_file(str(path))
    inventory = InventoryData()
    plugin.parse(inventory, DataLoader(), str(path), cache=cache)
    if config.get("cache"):
        plugin.update_cache_if_changed()
    return inventory


def hosts_of(inventory: InventoryData, group: str) -> set[str]:
    return {h.name for h in inventory.groups[group].get_hosts()} if group in inventory.groups else set()


def hostvars(inventory: InventoryData, host: str) -> dict:
    return inventory.get_host(host).get_vars()


def test_every_guest_becomes_a_host_with_its_variables(hypervisor, tmp_path):
    inv = run(tmp_path, {})
    assert {"inv-web", "inv-db", "inv-plain", "test"} <= set(inv.hosts)
    web = hostvars(inv, "inv-web")
    dom = hypervisor.lookupByName("inv-web")
    assert {k: v for k, v in web.items() if k.startswith(("libvirt_", "ansible_host"))} == {
        "libvirt_uri": URI, "libvirt_name": "inv-web", "libvirt_uuid": dom.UUIDString(), "libvirt_state": "running",
        "libvirt_vcpus": 2, "libvirt_memory": "512M", "libvirt_labels": {"role": "docker", "tier": "web"},
        "libvirt_hypervisor": "local", "ansible_host": web["ansible_host"]}
    assert web["ansible_host"].startswith("192.168.122.")  # the test driver's made-up DHCP lease
    db = hostvars(inv, "inv-db")
    assert db["libvirt_state"] == "shut_off" and db["libvirt_memory"] == "1G"
    assert "ansible_host" not in db  # a guest that is off has no address: skipped silently
    assert hostvars(inv, "inv-plain")["libvirt_labels"] == {}


def test_groups_by_hypervisor_state_and_label(hypervisor, tmp_path):
    inv = run(tmp_path, {})
    assert {"inv-web", "inv-db", "inv-plain", "test"} <= hosts_of(inv, "hypervisor_local")
    assert {"inv-web", "test"} <= hosts_of(inv, "state_running")
    assert {"inv-db", "inv-plain"} <= hosts_of(inv, "state_shut_off")
    assert hosts_of(inv, "label_role_docker") == {"inv-web"}
    assert hosts_of(inv, "label_tier_web") == {"inv-web"}
    assert hosts_of(inv, "label_role_db") == {"inv-db"}
    assert hosts_of(inv, "label_team_a_x_y") == {"inv-db"}  # made safe: '-' and ' ' become '_'
    assert hosts_of(inv, "label_flag") == {"inv-db"}  # an empty value: no trailing separator


def test_label_groups_choose_which_labels_make_groups(hypervisor, tmp_path):
    inv = run(tmp_path, {"label_groups": ["role", "team-*"]})
    assert hosts_of(inv, "label_role_docker") == {"inv-web"} and hosts_of(inv, "label_team_a_x_y") == {"inv-db"}
    assert "label_tier_web" not in inv.groups
    inv = run(tmp_path, {"label_groups": []})
    assert not [g for g in inv.groups if g.startswith("label_")]
    assert hostvars(inv, "inv-web")["libvirt_labels"] == {"role": "docker", "tier": "web"}


def test_states_filter_the_guests(hypervisor, tmp_path):
    inv = run(tmp_path, {"states": ["running"]})
    assert "inv-web" in inv.hosts and "inv-db" not in inv.hosts and "inv-plain" not in inv.hosts
    with pytest.raises(AnsibleError, match="states"):
        run(tmp_path, {"states": ["stopped"]})


def test_named_hypervisors_and_a_guest_name_seen_twice(hypervisor, tmp_path):
    inv = run(tmp_path, {"uris": [URI, {"uri": URI, "name": "hv 2"}]})
    assert "inv-web" in hosts_of(inv, "hypervisor_local")
    assert hosts_of(inv, "hypervisor_hv_2") >= {"inv-web@hv 2", "inv-db@hv 2"}
    assert hostvars(inv, "inv-web@hv 2")["libvirt_hypervisor"] == "hv 2"
    assert hostvars(inv, "inv-web@hv 2")["libvirt_name"] == "inv-web"


@pytest.mark.parametrize("uris,message", [
    ([{"url": URI}], r"uris\[0\]: \{'url': 'test:///default'\} is not valid"),
    ([42], r"uris\[0\]: 42 is not valid"),
    ([], r"uris: \[\] is not valid"),
])
def test_bad_uris_entries_name_the_entry(hypervisor, tmp_path, uris, message):
    with pytest.raises(AnsibleParserError, match=message):
        run(tmp_path, {"uris": uris})


def test_unreachable_hypervisor_names_the_uri_and_libvirts_message(tmp_path):
    uri = "qemu+unix:///system?socket=/nonexistent/hdk-inventory.sock"
    with pytest.raises(AnsibleParserError) as caught:
        run(tmp_path, {"uris": [uri]})
    message = str(caught.value)
    assert uri in message and "cannot connect to libvirt" in message and "/nonexistent/hdk-inventory.sock" in message


def test_hypervisor_name_defaults_to_the_uri_host():
    from ansible_collections.hyperdock.platform.plugins.inventory.libvirt_guests import hypervisor_name

    assert hypervisor_name("qemu+ssh://root@hv1.example.com:2222/system") == "hv1.example.com"
    assert hypervisor_name("qemu:///system") == hypervisor_name("xen:///system") == "local"


def test_compose_groups_and_keyed_groups(hypervisor, tmp_path):
    inv = run(tmp_path, {
        # Built-in filters only: in this process the collection's own filters are a plain package, not Ansible's
        # (the integration test composes with hyperdock.platform.to_bytes through the real ansible-inventory).
        "compose": {"memory_bytes": "libvirt_memory | human_to_bytes", "ansible_user": "'hyperdock'"},
        "groups": {"big": "memory_bytes >= 1024 ** 3", "docker_hosts": "libvirt_labels.role | default('') == 'docker'"},
        "keyed_groups": [{"key": "libvirt_labels.tier | default('none')", "prefix": "tier"},
                         {"key": "libvirt_state", "prefix": "power"}],
    })
    assert hostvars(inv, "inv-db")["memory_bytes"] == 1024 ** 3 and hostvars(inv, "inv-web")["ansible_user"] == "hyperdock"
    assert hosts_of(inv, "big") >= {"inv-db"} and "inv-web" not in hosts_of(inv, "big")
    assert hosts_of(inv, "docker_hosts") == {"inv-web"}
    assert "inv-web" in hosts_of(inv, "tier_web") and {"inv-db", "inv-plain"} <= hosts_of(inv, "tier_none")
    assert "inv-db" in hosts_of(inv, "power_shut_off")


def test_strict_makes_a_bad_expression_fail(hypervisor, tmp_path):
    config = {"compose": {"x": "libvirt_no_such_var.attr"}}
    inv = run(tmp_path, config)
    assert "x" not in hostvars(inv, "inv-web")
    with pytest.raises(AnsibleError, match="Could not set x for host"):
        run(tmp_path, dict(config, strict=True))


def test_cache_serves_the_guests_until_flushed(hypervisor, tmp_path):
    cache = {"cache": True, "cache_plugin": "ansible.builtin.jsonfile", "cache_connection": str(tmp_path / "cache")}
    spec = DomainSpec(name="inv-cached", domain_type="test")
    dom = hypervisor.defineXML(render(spec))
    dom.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, labels_metadata({"role": "cached"}), "hyperdock", LABELS_URI,
                    libvirt.VIR_DOMAIN_AFFECT_CONFIG)
    try:
        first = run(tmp_path, cache)
        assert hosts_of(first, "label_role_cached") == {"inv-cached"}
        assert list((tmp_path / "cache").iterdir()), "the jsonfile cache was not written"
    finally:
        dom.undefine()
    cached = run(tmp_path, cache)  # served from the cache: the guest is still there
    assert hosts_of(cached, "label_role_cached") == {"inv-cached"}
    assert hostvars(cached, "inv-cached")["libvirt_labels"] == {"role": "cached"}
    assert "inv-cached" not in run(tmp_path, dict(cache, cache=False)).hosts  # cache off: libvirt is read
    flushed = run(tmp_path, cache, cache=False)  # --flush-cache: read libvirt, and refresh the cache
    assert "inv-cached" not in flushed.hosts
    assert "inv-cached" not in run(tmp_path, cache).hosts


def test_cache_is_not_used_for_other_hypervisors(hypervisor, tmp_path):
    cache = {"cache": True, "cache_plugin": "ansible.builtin.jsonfile", "cache_connection": str(tmp_path / "cache")}
    run(tmp_path, cache)
    inv = run(tmp_path, dict(cache, uris=[{"uri": URI, "name": "renamed"}]))
    assert "inv-web" in hosts_of(inv, "hypervisor_renamed")


def test_only_config_files_named_for_the_plugin_are_read(tmp_path):
    plugin = load_plugin()
    for name, ok in (("x.libvirt_guests.yml", True), ("libvirt_guests.yaml", True), ("x.yml", False),
                     ("libvirt_guests.json", False)):
        (tmp_path / name).write_text(f"plugin: {NAME}\n")
        assert plugin.verify_file(str(tmp_path / name)) is ok, name


def test_documented_states_are_the_ones_the_backend_reports():
    from ansible_collections.hyperdock.platform.plugins.inventory import libvirt_guests
    from ansible_collections.hyperdock.platform.plugins.module_utils._libvirt_apply import LIBVIRT_STATES

    states = yaml.safe_load(libvirt_guests.DOCUMENTATION)["options"]["states"]
    assert set(states["choices"]) == set(states["default"]) == set(LIBVIRT_STATES.values())
