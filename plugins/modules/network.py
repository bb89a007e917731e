#!/usr/bin/python
# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: network
short_description: A libvirt network (NAT, routed, isolated or bridge) with DHCP and static reservations
version_added: 0.1.0
description:
  - Defines, starts, stops and removes a libvirt virtual network.
  - DHCP host reservations on an active network change live and are persisted. Any other change is persisted
    and listed in RV(pending_restart), since restarting a network cuts the guests attached to it.
author:
  - hyperdock.platform contributors (@hyperdock)
extends_documentation_fragment:
  - hyperdock.platform.libvirt
  - hyperdock.platform.libvirt.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  name:
    description: The network name.
    type: str
    required: true
  state:
    description:
      - V(active) defines and starts the network, V(inactive) defines it and stops it, V(present) defines it
        and leaves it as it is, V(absent) stops and undefines it.
    type: str
    choices: [active, inactive, present, absent]
    default: active
  mode:
    description: V(nat), V(route) (routed, no NAT), V(isolated) (no forwarding) or V(bridge) (an existing host bridge).
    type: str
    choices: [nat, route, isolated, bridge]
  bridge:
    description: The bridge device libvirt creates (or, with O(mode=bridge), the existing host bridge).
    type: str
  address:
    description: The host's address on the network, with its prefix, such as V(192.168.150.1/24).
    type: str
  dhcp_range:
    description: The DHCP range; both addresses inside O(address)'s network.
    type: dict
    suboptions:
      start:
        description: First address handed out.
        type: str
        required: true
      end:
        description: Last address handed out.
        type: str
        required: true
  hosts:
    description: Static DHCP reservations (the whole list when set). Changed live on an active network.
    type: list
    elements: dict
    suboptions:
      mac:
        description: The guest interface's MAC.
        type: str
        required: true
      ip:
        description: The address it always gets.
        type: str
        required: true
      name:
        description: A host name.
        type: str
  autostart:
    description: Whether libvirtd starts the network when the host boots.
    type: bool
seealso:
  - module: hyperdock.platform.guest
"""

EXAMPLES = r"""
- name: A NAT network with a DHCP range and a fixed address for one guest
  hyperdock.platform.network:
    name: lab
    mode: nat
    bridge: virbr-lab
    address: 192.168.150.1/24
    dhcp_range: {start: 192.168.150.100, end: 192.168.150.200}
    hosts:
      - {mac: "52:54:00:00:00:10", ip: 192.168.150.10, name: web1}
    autostart: true

- name: An isolated network for storage traffic
  hyperdock.platform.network:
    name: storage
    mode: isolated
    address: 10.10.0.1/24

- name: Remove it
  hyperdock.platform.network:
    name: storage
    state: absent
"""

RETURN = r"""
actions:
  description: The plan that was applied (or would be, in check mode).
  returned: always
  type: list
  elements: dict
pending_restart:
  description: Options persisted that take effect when the network is next restarted.
  returned: always
  type: list
  elements: str
network:
  description: The network after the run (empty when absent).
  returned: always
  type: dict
  sample: {mode: nat, bridge: virbr-lab, address: 192.168.150.1/24, active: true, autostart: true}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hyperdock.platform.plugins.module_utils._libvirt_network import run


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            uri=dict(type="str", default="qemu:///system"),
            name=dict(type="str", required=True),
            state=dict(type="str", default="active", choices=["active", "inactive", "present", "absent"]),
            mode=dict(type="str", choices=["nat", "route", "isolated", "bridge"]),
            bridge=dict(type="str"),
            address=dict(type="str"),
            dhcp_range=dict(type="dict", options=dict(start=dict(type="str", required=True), end=dict(type="str", required=True))),
            hosts=dict(type="list", elements="dict", options=dict(mac=dict(type="str", required=True),
                                                                  ip=dict(type="str", required=True), name=dict(type="str"))),
            autostart=dict(type="bool"),
        ),
        supports_check_mode=True,
    )
    run(module)


if __name__ == "__main__":
    main()
