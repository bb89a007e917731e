#!/usr/bin/python
# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: guest_info
short_description: Read one libvirt guest, or all of them, in the guest module's vocabulary
version_added: 0.1.0
description:
  - Reports each guest's state, resources and limits (as M(hyperdock.platform.guest) options are written),
    labels, disks, interfaces with MAC and IP addresses, autostart and hypervisor type.
  - For a running (or paused) guest, also what it uses now, in RV(guests[].usage) - CPU time, the resident memory
    of its process on the host, and how much of each disk is allocated.
  - IP addresses come from the DHCP leases of libvirt networks, the guest agent, or the host's ARP table,
    whichever answers first.
author:
  - hyperdock.platform contributors (@hyperdock)
extends_documentation_fragment:
  - hyperdock.platform.libvirt
  - hyperdock.platform.libvirt.attributes
  - hyperdock.platform.info_module
options:
  name:
    description: One guest. All guests when not given.
    type: str
seealso:
  - module: hyperdock.platform.guest
"""

EXAMPLES = r"""
- name: Every guest on the host
  hyperdock.platform.guest_info:
  register: all_guests

- name: One guest's addresses
  hyperdock.platform.guest_info:
    name: web1
  register: web1

- name: Print them
  ansible.builtin.debug:
    msg: "{{ web1.guests[0].interfaces | map(attribute='addresses') | flatten }}"

- name: The guests labelled role=docker
  ansible.builtin.debug:
    msg: "{{ all_guests.guests | selectattr('labels.role', 'defined') | selectattr('labels.role', '==', 'docker') | map(attribute='name') }}"

- name: The host memory each running guest takes
  ansible.builtin.debug:
    msg: "{{ item.name }}: {{ item.usage.memory_rss }}"
  loop: "{{ all_guests.guests | selectattr('usage') }}"
  loop_control:
    label: "{{ item.name }}"
"""

RETURN = r"""
exists:
  description: Whether any guest was found.
  returned: always
  type: bool
guests:
  description: The guests, sorted by name.
  returned: always
  type: list
  elements: dict
  sample:
    - name: web1
      uuid: 0a95f6ed-b8de-489a-ba9b-18f29c5daa07
      state: running
      autostart: true
      hypervisor: kvm
      vcpus: 2
      max_vcpus: 4
      memory: 1G
      max_memory: 4G
      cpu_shares: 2048
      memory_hard_limit: 3G
      disks: [{target: vda, pool: default, volume: web1.qcow2, bus: virtio, format: qcow2, iotune: {total_bytes_sec: 100M}}]
      interfaces: [{network: default, mac: "52:54:00:12:34:56", model: virtio, addresses: [192.168.122.20]}]
      labels: {role: docker, tier: web}
      live: {vcpus: 2, memory: 1G, max_vcpus: 4, max_memory: 4G, memory_target: 1G, labels: {role: docker, tier: web}}
      usage:
        cpu_time_seconds: 812.405
        memory_used: 412M
        memory_used_bytes: 432013312
        memory_rss: 913408K
        memory_rss_bytes: 935329792
        disks: [{target: vda, allocation: 1515520K, allocation_bytes: 1551892480}]
  contains:
    labels:
      description: The guest's labels (M(hyperdock.platform.guest)'s O(hyperdock.platform.guest#module:labels)), empty when it has none.
      returned: always
      type: dict
      sample: {role: docker}
    usage:
      description:
        - What the guest uses now; V(null) when it is not running.
        - A value the hypervisor driver does not report is V(null).
      returned: always
      type: dict
      contains:
        cpu_time_seconds:
          description: CPU time the guest has used since it started, in seconds.
          type: float
          returned: always
          sample: 812.405
        memory_used:
          description:
            - Memory the guest's own kernel has in use (what it sees less what it could free without swapping),
              from the virtio balloon's statistics, in the size vocabulary.
            - V(null) when the guest reports none (no balloon driver in the guest, or no statistics period;
              M(hyperdock.platform.guest) gives new KVM/QEMU guests one of 10 seconds).
          type: str
          returned: always
          sample: 412M
        memory_used_bytes:
          description: The same, in bytes.
          type: int
          returned: always
          sample: 432013312
        memory_rss:
          description:
            - Resident memory of the guest's process on the host, in the size vocabulary (V(896M), V(913408K)).
            - It also holds the emulator's own memory (under TCG, its translation cache), so it can exceed the
              guest's memory; it is what the guest costs the host, not how full the guest is.
          type: str
          returned: always
          sample: 913408K
        memory_rss_bytes:
          description: The same, in bytes.
          type: int
          returned: always
          sample: 935329792
        disks:
          description: Each disk's allocation on the host (what a sparse or qcow2 image really takes), by target.
          type: list
          elements: dict
          returned: always
          sample: [{target: vda, allocation: 1515520K, allocation_bytes: 1551892480}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hyperdock.platform.plugins.module_utils._libvirt_apply import run_guest_info


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(uri=dict(type="str", default="qemu:///system"), name=dict(type="str")),
        supports_check_mode=True,
    )
    run_guest_info(module)


if __name__ == "__main__":
    main()
