#!/usr/bin/python
# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: guest_budget
short_description: Check that a set of guests fits a hypervisor's budget before any of them is changed
version_added: 0.1.0
description:
  - Adds the guests a play is about to define or change to the guests already defined on the hypervisor
    (a planned guest replaces a defined one of the same name) and checks the sum of their vCPUs and memory
    against the hypervisor's guest budget.
  - Fails, changing nothing, when they do not fit; the message names the hypervisor, the budget, the sum and
    every guest that makes it up.
  - Run it before M(hyperdock.platform.guest), as the C(hyperdock.platform.guest) role does, so an overcommit
    is refused before the first guest changes.
author:
  - hyperdock.platform contributors (@hyperdock)
extends_documentation_fragment:
  - hyperdock.platform.libvirt
  - hyperdock.platform.libvirt.attributes
  - hyperdock.platform.budget
  - hyperdock.platform.info_module
options:
  guests:
    description: The guests about to be defined or changed on this hypervisor.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Guest name.
        type: str
        required: true
      vcpus:
        description: vCPUs (the ceiling counts when O(guests[].max_vcpus) is set).
        type: int
      max_vcpus:
        description: The most vCPUs the guest can be raised to live.
        type: int
      memory:
        description: Memory, as V(2G) (the ceiling counts when O(guests[].max_memory) is set).
        type: str
      max_memory:
        description: The most memory the guest can be ballooned to.
        type: str
seealso:
  - module: hyperdock.platform.hypervisor_info
  - module: hyperdock.platform.guest
"""

EXAMPLES = r"""
- name: Refuse the plan if web and db do not fit next to what the hypervisor runs
  hyperdock.platform.guest_budget:
    reserved_memory: 1G
    guests:
      - name: web
        vcpus: 2
        memory: 2G
      - name: db
        vcpus: 1
        memory: 1G
        max_memory: 4G
"""

RETURN = r"""
fits:
  description: Whether the guests fit (always true when the module succeeds).
  returned: always
  type: bool
budget:
  description: The hypervisor, what is reserved, the overcommit ratios and the resulting budget.
  returned: always
  type: dict
  sample: {cpus: 2, memory: 5G, host_cpus: 2, host_memory: 6G, reserved_memory: 1G, reserved_cpus: 0,
           cpu_overcommit: 1.0, memory_overcommit: 1.0}
guests:
  description: Every guest counted, from the play (V(planned)) or already on the hypervisor (V(defined)).
  returned: always
  type: list
  elements: dict
  sample: [{name: web, vcpus: 2, memory: 2G, source: planned}]
total:
  description: What the guests take in all.
  returned: always
  type: dict
  sample: {vcpus: 3, memory: 6G}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hyperdock.platform.plugins.module_utils._hypervisor import BUDGET_ARGS, run_guest_budget


def main() -> None:
    guest = {"name": {"type": "str", "required": True}, "vcpus": {"type": "int"}, "max_vcpus": {"type": "int"},
             "memory": {"type": "str"}, "max_memory": {"type": "str"}}
    module = AnsibleModule(
        argument_spec={
            "uri": {"type": "str", "default": "qemu:///system"},
            "guests": {"type": "list", "elements": "dict", "required": True, "options": guest},
            **BUDGET_ARGS,
        },
        supports_check_mode=True,
    )
    run_guest_budget(module)


if __name__ == "__main__":
    main()
