#!/usr/bin/python
# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: hypervisor_info
short_description: A libvirt host's capacity, accelerator, allocations and guest budget
version_added: 0.1.0
description:
  - Reports what a hypervisor has (CPUs, memory), which accelerator guests get (KVM when C(/dev/kvm) really
    runs a guest, QEMU TCG otherwise, or Xen) and why, and what its defined guests already take.
  - Computes the budget the guest layer must fit in, the host's CPUs and memory less what is reserved for
    the host, times the overcommit ratios, and what is still free of it.
  - Sizes are written and reported as the other modules write them (V(512M), V(2G)).
author:
  - hyperdock.platform contributors (@hyperdock)
extends_documentation_fragment:
  - hyperdock.platform.libvirt
  - hyperdock.platform.libvirt.attributes
  - hyperdock.platform.budget
  - hyperdock.platform.info_module
options:
  probe_kvm:
    description:
      - Boot QEMU's firmware with the host's CPU under KVM, and under TCG to compare, to check that C(/dev/kvm)
        really runs guests (nested KVM can open and then refuse the CPU, hang or crawl). The answer is the one
        M(hyperdock.platform.guest) acts on, probed once per host boot and kept in C(/run/hyperdock-kvm-probe.json).
      - Without it, only the device and its API version are checked.
    type: bool
    default: true
seealso:
  - module: hyperdock.platform.guest
  - module: hyperdock.platform.guest_info
"""

EXAMPLES = r"""
- name: Capacity of this hypervisor, keeping 2G for the host
  hyperdock.platform.hypervisor_info:
    reserved_memory: 2G
    memory_overcommit: 1.0
  register: hv

- name: Refuse to place a guest that does not fit
  ansible.builtin.assert:
    that: (hv.hypervisor.free.memory_bytes | int) >= 2147483648
    fail_msg: "{{ inventory_hostname }} has only {{ hv.hypervisor.free.memory }} of guest memory left"
"""

RETURN = r"""
hypervisor:
  description: The host, its accelerator, what its guests take, and the guest budget.
  returned: always
  type: dict
  contains:
    uri:
      description: The connection URI.
      type: str
      sample: qemu:///system
    hostname:
      description: The host's name as libvirt reports it.
      type: str
    driver:
      description: The libvirt driver (V(qemu), V(xen), V(test)).
      type: str
    libvirt_version:
      description: The libvirt daemon's version.
      type: str
      sample: 9.0.0
    hypervisor_version:
      description: The hypervisor's version (QEMU's or Xen's).
      type: str
      sample: 7.2.22
    cpus:
      description: Host CPUs.
      type: int
      sample: 8
    memory:
      description: Host memory.
      type: str
      sample: 32G
    memory_bytes:
      description: Host memory in bytes.
      type: int
    accelerator:
      description: V(kvm), V(tcg) (QEMU without KVM), V(xen) or V(test).
      type: str
    accelerator_reason:
      description: Why that accelerator (what the KVM probe found).
      type: str
      sample: "/dev/kvm opens, but a KVM guest hung during firmware POST for 8s (nested KVM?); using QEMU TCG"
    guests:
      description: The defined guests and what they take (their maximum vCPUs and current memory).
      type: dict
      contains:
        defined:
          description: How many guests are defined.
          type: int
        running:
          description: How many are running.
          type: int
        names:
          description: Their names.
          type: list
          elements: str
        vcpus:
          description: Sum of their vCPUs.
          type: int
        memory:
          description: Sum of their memory.
          type: str
        memory_bytes:
          description: Sum of their memory, in bytes.
          type: int
    budget:
      description: What guests may take in all, (host - reserved) x overcommit.
      type: dict
      contains:
        cpus:
          description: vCPUs.
          type: int
        memory:
          description: Memory.
          type: str
        memory_bytes:
          description: Memory in bytes.
          type: int
        reserved_memory:
          description: Memory reserved for the host.
          type: str
        reserved_cpus:
          description: CPUs reserved for the host.
          type: int
        cpu_overcommit:
          description: The vCPU overcommit ratio.
          type: float
        memory_overcommit:
          description: The memory overcommit ratio.
          type: float
    free:
      description: The budget less what the defined guests take (negative when overcommitted).
      type: dict
      contains:
        cpus:
          description: vCPUs.
          type: int
        memory:
          description: Memory (a leading V(-) when overcommitted).
          type: str
        memory_bytes:
          description: Memory in bytes.
          type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hyperdock.platform.plugins.module_utils._hypervisor import BUDGET_ARGS, run_hypervisor_info


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "uri": {"type": "str", "default": "qemu:///system"},
            **BUDGET_ARGS,
            "probe_kvm": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    run_hypervisor_info(module)


if __name__ == "__main__":
    main()
