# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: libvirt_guests
short_description: libvirt guests as inventory hosts, grouped by hypervisor, state and label
version_added: 0.1.0
description:
  - Reads the guests (domains) of one or more libvirt hypervisors, KVM/QEMU, Xen (libxl) or any other libvirt
    driver, and adds each as a host named after its domain.
  - "Groups: C(hypervisor_<name>) for each entry of O(uris), C(state_<state>) for each libvirt state
    (C(state_running), C(state_shut_off), ...), and C(label_<label>_<value>) for each guest label chosen by
    O(label_groups) (a label with an empty value makes C(label_<label>)). Group names are made safe the way
    Ansible makes them safe, every character other than a letter, digit or C(_) becoming C(_)."
  - "Host variables: C(ansible_host) (the guest's first IPv4 address, else its first global IPv6 one, from
    libvirt's DHCP leases, then the guest agent, then the host's ARP table; not set when none answers),
    C(libvirt_uri), C(libvirt_name), C(libvirt_uuid), C(libvirt_state), C(libvirt_vcpus), C(libvirt_memory)
    (such as V(2G), as M(hyperdock.platform.guest) writes it), C(libvirt_labels) (all the guest's labels) and
    C(libvirt_hypervisor) (the name of its O(uris) entry)."
  - C(libvirt_vcpus) and C(libvirt_memory) are the guest's definition, which a running guest has unless a change
    is pending a reboot.
  - Labels are what M(hyperdock.platform.guest)'s O(hyperdock.platform.guest#module:labels) writes in the domain's
    metadata.
  - The configuration file's name must end in C(libvirt_guests.yml) or C(libvirt_guests.yaml).
author:
  - Hyperdock Platform Team (@hyperdock)
requirements:
  - libvirt-python on the controller
extends_documentation_fragment:
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
options:
  plugin:
    description: The name of this plugin; the file is read by this plugin only when it says so.
    required: true
    type: str
    choices: [hyperdock.platform.libvirt_guests]
  uris:
    description:
      - The hypervisors to read, each a libvirt URI such as V(qemu:///system), V(xen:///system),
        V(qemu+ssh://root@hv1/system) or V(test:///default), or a mapping with C(uri) and C(name).
      - C(name) names the hypervisor in the group C(hypervisor_<name>) and in C(libvirt_hypervisor). It defaults to
        the URI's host (V(hv1) above), or V(local) when the URI has none.
      - A guest whose name another hypervisor listed earlier already has becomes C(<name>@<hypervisor>), with a
        warning.
    type: list
    elements: raw
    default: [qemu:///system]
  states:
    description:
      - The libvirt states of the guests to include, as C(virsh list) names them (spaces as C(_)).
    type: list
    elements: str
    choices: [running, idle, paused, in_shutdown, shut_off, crashed, pmsuspended, no_state]
    default: [running, idle, paused, in_shutdown, shut_off, crashed, pmsuspended, no_state]
  label_groups:
    description:
      - The labels that make groups, as names or shell-style patterns such as V(team-*). Each guest with a
        label matching one is added to C(label_<label>_<value>).
      - V([]) makes no label groups; C(libvirt_labels) still has every label, for O(keyed_groups) or O(groups).
    type: list
    elements: str
    default: ['*']
notes:
  - A libvirt error, such as a hypervisor that does not answer, fails the inventory source naming the URI and
    libvirt's message.
  - With O(cache=true), the guests read from libvirt are cached and served until O(cache_timeout) passes, the
    configured O(uris) change, or C(ansible-inventory --flush-cache) (or C(--flush-cache) on a playbook) runs.
seealso:
  - module: hyperdock.platform.guest
  - module: hyperdock.platform.guest_info
"""

EXAMPLES = r"""
# inventory/local.libvirt_guests.yml: every guest of the local hypervisor
---
plugin: hyperdock.platform.libvirt_guests

# inventory/lab.libvirt_guests.yml: two hypervisors, running guests only, groups from the role label
# (label_role_docker, ...), cached for 10 minutes; `ansible-inventory --flush-cache` reads libvirt again.
---
plugin: hyperdock.platform.libvirt_guests
uris:
  - qemu:///system
  - uri: qemu+ssh://root@hv2.example.com/system
    name: hv2
states: [running]
label_groups: [role]
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/hyperdock-inventory
cache_timeout: 600
# Log in as the user the guest role creates; group by the tier label and by size.
compose:
  ansible_user: "'hyperdock'"
keyed_groups:
  - key: libvirt_labels.tier | default('none')
    prefix: tier
groups:
  big: libvirt_memory | hyperdock.platform.to_bytes >= 4 * 1024 ** 3
# Then: ansible-playbook -i inventory/lab.libvirt_guests.yml site.yml --limit label_role_docker
"""

import fnmatch
from typing import Any
from urllib.parse import urlsplit

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.hyperdock.platform.plugins.module_utils import _libvirt as lv
from ansible_collections.hyperdock.platform.plugins.module_utils._libvirt_apply import inventory_guests

CONFIG_SUFFIXES = ("libvirt_guests.yml", "libvirt_guests.yaml")
# What the cache keeps of each guest: enough for the host variables and groups, nothing more.
CACHED_KEYS = ("name", "uuid", "libvirt_state", "vcpus", "memory", "labels", "address")


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "hyperdock.platform.libvirt_guests"

    def verify_file(self, path: str) -> bool:
        return super().verify_file(path) and path.endswith(CONFIG_SUFFIXES)

    def parse(self, inventory: Any, loader: Any, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        hypervisors = self._hypervisors()
        states = set(self.get_option("states") or [])  # Ansible checked them against the documented choices
        cache_key = self.get_cache_key(path)
        caching = bool(self.get_option("cache"))
        read = None
        if caching and cache:
            try:
                read = self._cache[cache_key]
            except KeyError:
                read = None
            if not isinstance(read, list) or [{"uri": h.get("uri"), "name": h.get("name")} for h in read] != hypervisors:
                read = None  # nothing cached yet, or for other hypervisors than the configuration names now
        if read is None:
            read = self._read(hypervisors)
            if caching:
                self._cache[cache_key] = read
        self._populate(read, states)

    # ------------------------------------------------------------ options

    def _hypervisors(self) -> list[dict[str, str]]:
        """The ``uris`` option as ``[{uri, name}]``; a bad entry fails naming it."""
        entries = self.get_option("uris")
        if not isinstance(entries, list) or not entries:
            raise AnsibleParserError(f"uris: {entries!r} is not valid; expected a list of libvirt URIs, such as [qemu:///system]")
        result = []
        for index, entry in enumerate(entries):
            if isinstance(entry, str):
                entry = {"uri": entry}
            if not isinstance(entry, dict) or set(entry) - {"uri", "name"} or not isinstance(entry.get("uri"), str) \
                    or not entry["uri"] or not isinstance(entry.get("name", ""), str):
                raise AnsibleParserError(f"uris[{index}]: {entry!r} is not valid; expected a libvirt URI such as qemu:///system, "
                                         "or a mapping with uri and an optional name")
            # Plain strings: what is cached and set as host variables is data, not a template from the configuration.
            uri = str(entry["uri"])
            result.append({"uri": uri, "name": str(entry.get("name") or hypervisor_name(uri))})
        return result

    # ------------------------------------------------------------ read

    def _read(self, hypervisors: list[dict[str, str]]) -> list[dict[str, Any]]:
        if lv.libvirt is None:
            reason = (lv.LIBVIRT_IMPORT_ERROR or "").strip().splitlines()[-1:]
            raise AnsibleParserError(f"{self.NAME} needs libvirt-python (the libvirt Python binding) on the controller"
                                     + (f": {reason[0]}" if reason else ""))
        result = []
        for hypervisor in hypervisors:
            try:
                guests = inventory_guests(hypervisor["uri"])
            except lv.BackendError as exc:
                raise AnsibleParserError(str(exc)) from None
            result.append(dict(hypervisor, guests=[{k: g.get(k) for k in CACHED_KEYS} for g in guests]))
        return result

    # ------------------------------------------------------------ populate

    def _populate(self, hypervisors: list[dict[str, Any]], states: set[str]) -> None:
        patterns = self.get_option("label_groups") or []
        strict = self.get_option("strict")
        taken: dict[str, str] = {}
        for hypervisor in hypervisors:
            for guest in hypervisor["guests"]:
                if guest["libvirt_state"] not in states:
                    continue
                host = guest["name"]
                if host in taken:
                    unique = f"{host}@{hypervisor['name']}"
                    self.display.warning(f"{self.NAME}: the guest {host!r} of {hypervisor['uri']} has the name of a guest of "
                                         f"{taken[host]}; it is added as {unique!r}")
                    host = unique
                taken[host] = hypervisor["uri"]
                self.inventory.add_host(host)
                for key, value in host_vars(guest, hypervisor).items():
                    self.inventory.set_variable(host, key, value)
                for group in host_groups(guest, hypervisor, patterns):
                    self.inventory.add_child(self.inventory.add_group(self._sanitize_group_name(group)), host)
                variables = self.inventory.get_host(host).get_vars()
                self._set_composite_vars(self.get_option("compose"), variables, host, strict=strict)
                self._add_host_to_composed_groups(self.get_option("groups"), variables, host, strict=strict)
                self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, host, strict=strict)


def hypervisor_name(uri: str) -> str:
    """The host of ``uri`` (``hv1`` for ``qemu+ssh://root@hv1/system``), or ``local`` when it has none."""
    try:
        host = urlsplit(uri).hostname
    except ValueError:
        host = None
    return host or "local"


def host_vars(guest: dict[str, Any], hypervisor: dict[str, Any]) -> dict[str, Any]:
    hostvars = {
        "libvirt_uri": hypervisor["uri"],
        "libvirt_name": guest["name"],
        "libvirt_uuid": guest["uuid"],
        "libvirt_state": guest["libvirt_state"],
        "libvirt_vcpus": guest["vcpus"],
        "libvirt_memory": guest["memory"],
        "libvirt_labels": dict(guest.get("labels") or {}),
        "libvirt_hypervisor": hypervisor["name"],
    }
    if guest.get("address"):
        hostvars["ansible_host"] = guest["address"]
    return hostvars


def host_groups(guest: dict[str, Any], hypervisor: dict[str, Any], label_patterns: list[str]) -> list[str]:
    """The groups of a guest, before they are made safe: hypervisor, state and the labels chosen."""
    groups = [f"hypervisor_{hypervisor['name']}", f"state_{guest['libvirt_state']}"]
    for name, value in sorted((guest.get("labels") or {}).items()):
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in label_patterns):
            groups.append(f"label_{name}_{value}" if value else f"label_{name}")
    return groups
