#!/usr/bin/python
# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: guest
short_description: A declarative KVM, QEMU or Xen guest over libvirt, with resource limits applied live
version_added: 0.1.0
description:
  - Defines, updates, starts, stops, pauses and removes a libvirt domain from typed options rather than raw XML.
  - The module reads the guest, computes a plan by comparing the desired and the actual domain after normalising
    both, and applies the plan unless in check mode. Check mode and C(--diff) report that same plan.
  - Changes libvirt can make to a running guest (vcpus up to O(max_vcpus), memory up to O(max_memory), CPU
    shares, quota and period, pinning, memory and block I/O tuning, per-disk I/O limits, labels) are applied live
    B(and) persisted. Everything else is persisted for the next boot and listed in RV(pending_reboot).
  - MAC addresses and the UUID never change on a re-run.
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
    description: The guest (libvirt domain) name.
    type: str
    required: true
  state:
    description:
      - V(present) defines the guest and leaves its power state alone (a new guest stays off).
      - V(running) defines and starts it (or resumes it when paused).
      - V(stopped) shuts it down gracefully and waits up to O(timeout) seconds, then powers it off only when O(force=true).
      - V(paused) suspends it (starting it paused when it is off).
      - V(absent) powers it off and undefines it, including UEFI NVRAM, keeping its disks unless O(remove_storage=true).
    type: str
    choices: [present, running, stopped, paused, absent]
    default: present
  apply:
    description:
      - How changes reach a running guest.
      - V(live) applies what libvirt can change live and persists the rest for the next boot.
      - V(reboot) does the same, then reboots the guest (graceful shutdown, then start) when some change needs it.
      - V(next_boot) changes only the persistent definition.
    type: str
    choices: [live, reboot, next_boot]
    default: live
  hypervisor:
    description:
      - V(auto) uses V(kvm) when C(/dev/kvm) really runs a guest on the managed host (probed by booting QEMU
        firmware under KVM for a few seconds), plain V(qemu) (TCG) otherwise, and V(xen) on a C(xen://) URI.
        The result says which was chosen and why.
      - Only consulted when the guest is created, or when set to something other than V(auto).
    type: str
    choices: [auto, kvm, qemu, xen]
    default: auto
  xen_mode:
    description: The Xen guest type, for O(hypervisor=xen).
    type: str
    choices: [pv, pvh, hvm]
  vcpus:
    description: Virtual CPUs online. Changed live up to the running guest's maximum.
    type: int
  max_vcpus:
    description: Maximum virtual CPUs (hot-plug ceiling). Defaults to O(vcpus) for a new guest. Changes at next boot.
    type: int
  memory:
    description: Memory, such as V(512M) or V(2G) (binary units). Changed live (balloon) up to the running guest's maximum.
    type: str
  max_memory:
    description: Maximum memory, the balloon ceiling. Defaults to O(memory) for a new guest. Changes at next boot.
    type: str
  cpu_mode:
    description: The CPU mode. Defaults to V(host-passthrough) for a new KVM guest.
    type: str
    choices: [host-passthrough, host-model, custom, maximum]
  cpu_model:
    description: The CPU model name for O(cpu_mode=custom), such as V(qemu64).
    type: str
  machine:
    description: The machine type, such as V(q35) or V(pc). A versioned machine libvirt expanded the alias to matches it.
    type: str
  firmware:
    description: V(bios) or V(uefi). UEFI guests get an NVRAM file, removed with the guest.
    type: str
    choices: [bios, uefi]
  autostart:
    description: Whether libvirtd starts the guest when the host boots.
    type: bool
  labels:
    description:
      - The guest's labels, a mapping of name to string such as C(role=docker) and C(tier=web). They are kept in the
        domain's C(<metadata>) as C(<hyperdock:labels>), in the namespace C(https://hyperdock.dev/xmlns/guest/1);
        any other metadata is left as it is.
      - When set, these are all the labels; V({}) removes them. Not set leaves them as they are.
      - Names are letters, digits, C(_), C(.) and C(-); values are strings (quote numbers and booleans in YAML).
      - Changed live B(and) persisted on a running guest (and only persisted when it is off, or with O(apply=next_boot)).
      - The P(hyperdock.platform.libvirt_guests#inventory) inventory plugin makes groups of them.
    type: dict
  kernel:
    description: A kernel for direct kernel boot (also a Xen PV or PVH kernel).
    type: path
  initrd:
    description: An initrd for direct kernel boot.
    type: path
  cmdline:
    description: The kernel command line for direct kernel boot.
    type: str
  bootloader:
    description: A Xen PV bootloader, such as V(pygrub), instead of O(kernel).
    type: str
  disks:
    description:
      - The guest's disks, in order. When set, this is the whole list; a disk left out is detached (never deleted).
      - Each is an existing file (O(disks[].path)) or libvirt volume (O(disks[].pool) and O(disks[].volume)),
        or a new one created when O(disks[].size) or O(disks[].base_image) is given and it does not exist.
      - A larger O(disks[].size) grows the volume (live when the guest runs); a smaller one fails, volumes never shrink.
    type: list
    elements: dict
    suboptions:
      path:
        description: An image file.
        type: path
      pool:
        description: A storage pool, with O(disks[].volume).
        type: str
      volume:
        description: A volume in O(disks[].pool).
        type: str
      size:
        description: Size of a new disk, or a larger size to grow to, such as V(10G).
        type: str
      base_image:
        description: A base image the new disk is backed by (a qcow2 backing file); the base is never written.
        type: path
      format:
        description: The image format. Defaults to V(qcow2) for new disks.
        type: str
      target:
        description: The device name in the guest, such as V(vda). Assigned in order when not given.
        type: str
      bus:
        description: The bus. Defaults to V(virtio) (V(xen) on Xen).
        type: str
        choices: [virtio, sata, scsi, ide, usb, xen]
      cache:
        description: The host cache mode.
        type: str
        choices: [default, none, writethrough, writeback, directsync, unsafe]
      device:
        description: V(disk) or V(cdrom).
        type: str
        choices: [disk, cdrom]
        default: disk
      readonly:
        description: Attach read-only.
        type: bool
        default: false
      iotune:
        description:
          - Per-disk I/O limits, applied live on a running guest. A value of 0 removes the limit.
          - The C(*_bytes_sec) keys take sizes such as V(50M); the C(*_iops_sec) keys take numbers.
        type: dict
        suboptions:
          total_bytes_sec:
            description: Total throughput per second.
            type: str
          read_bytes_sec:
            description: Read throughput per second.
            type: str
          write_bytes_sec:
            description: Write throughput per second.
            type: str
          total_iops_sec:
            description: Total I/O operations per second.
            type: int
          read_iops_sec:
            description: Read I/O operations per second.
            type: int
          write_iops_sec:
            description: Write I/O operations per second.
            type: int
  interfaces:
    description:
      - Network interfaces, in order. When set, this is the whole list.
      - The MAC is kept from the existing interface at the same position on the same network or bridge,
        or derived from the guest name and position, so it never changes across runs.
    type: list
    elements: dict
    suboptions:
      network:
        description: A libvirt network. An unknown network fails naming it.
        type: str
      bridge:
        description: A host bridge.
        type: str
      mac:
        description: A fixed MAC address.
        type: str
      model:
        description: The NIC model. Defaults to V(virtio) on KVM and QEMU.
        type: str
  cloud_init:
    description:
      - A NoCloud seed built as an ISO (volume label C(cidata)) by the module and attached as a CD-ROM.
      - The ISO is rewritten only when its content changes.
    type: dict
    suboptions:
      user_data:
        description: Cloud-config as a mapping (written as C(#cloud-config)), or the raw user-data text.
        type: raw
      meta_data:
        description: Meta-data as a mapping or text. Defaults to the guest name as instance-id and hostname.
        type: raw
      network_config:
        description: Network config (version 1 or 2) as a mapping or text.
        type: raw
      ssh_authorized_keys:
        description: SSH public keys, added to O(cloud_init.user_data) (which must then be a mapping).
        type: list
        elements: str
      path:
        description: Where the ISO is written. Defaults to C(/var/lib/libvirt/images/<name>-cidata.iso).
        type: path
  cpu_shares:
    description: Relative CPU weight (cgroup shares on KVM/QEMU, the credit scheduler weight on Xen). Live.
    type: int
  cpu_quota:
    description: Per-vCPU bandwidth in microseconds per O(cpu_period); V(-1) is unlimited. Live.
    type: int
  cpu_period:
    description: The bandwidth period in microseconds (1000 to 1000000). Live.
    type: int
  cpu_pinning:
    description: Host CPUs each vCPU may run on, as a mapping of vCPU number to cpuset such as V(0-1). Live.
    type: dict
  memory_hard_limit:
    description: The most host memory the guest process may use, such as V(2G); at least O(memory). Live.
    type: str
  memory_soft_limit:
    description: The memory the guest is pushed back to under host contention; at least O(memory). Live.
    type: str
  swap_hard_limit:
    description: Memory plus swap limit; at least O(memory_hard_limit). Live.
    type: str
  blkio_weight:
    description: Relative block I/O weight, 100 to 1000. Live.
    type: int
  xml:
    description:
      - An escape hatch for anything not modelled, a C(<domain>) document merged over the generated XML.
        Elements are matched by tag (and C(dev), C(name) or C(type) attribute); the overlay's attributes and text win.
      - A malformed overlay fails before anything changes.
    type: str
  timeout:
    description: Seconds to wait for a graceful shutdown.
    type: int
    default: 120
  force:
    description: Power the guest off when a graceful shutdown did not finish within O(timeout).
    type: bool
    default: false
  remove_storage:
    description: With O(state=absent), also delete the guest's disk volumes and files (and its cloud-init seed).
    type: bool
    default: false
seealso:
  - module: hyperdock.platform.guest_info
notes:
  - The KVM probe runs on the managed host; with a remote URI such as C(qemu+ssh://) pass O(hypervisor) explicitly.
"""

EXAMPLES = r"""
- name: A small guest booted from a cloud image, with cloud-init
  hyperdock.platform.guest:
    name: web1
    state: running
    vcpus: 2
    max_vcpus: 4
    memory: 1G
    max_memory: 4G
    disks:
      - pool: default
        volume: web1.qcow2
        size: 20G
        base_image: /var/lib/libvirt/images/debian-12-genericcloud-amd64.qcow2
        iotune:
          total_bytes_sec: 100M
          total_iops_sec: 2000
    interfaces:
      - network: default
    cloud_init:
      user_data:
        packages: [nginx]
      ssh_authorized_keys:
        - "{{ lookup('file', '~/.ssh/id_ed25519.pub') }}"
    autostart: true

- name: Raise its limits; memory and vcpus change live, no reboot
  hyperdock.platform.guest:
    name: web1
    state: running
    vcpus: 4
    memory: 2G
    cpu_shares: 2048
    memory_hard_limit: 3G
  register: web1

- name: Show what needs a reboot
  ansible.builtin.debug:
    var: web1.pending_reboot

- name: Label it; labels change live, and the libvirt_guests inventory plugin groups by them
  hyperdock.platform.guest:
    name: web1
    labels:
      role: docker
      tier: web

- name: A Xen PVH guest with a direct kernel boot
  hyperdock.platform.guest:
    uri: xen:///system
    name: pvh1
    hypervisor: xen
    xen_mode: pvh
    kernel: /var/lib/xen/images/vmlinuz
    initrd: /var/lib/xen/images/initrd.img
    cmdline: console=hvc0 root=/dev/xvda1
    vcpus: 2
    memory: 1G
    disks:
      - path: /var/lib/xen/images/pvh1.qcow2
        size: 10G

- name: Stop gracefully, forcing off after 60 seconds
  hyperdock.platform.guest:
    name: web1
    state: stopped
    timeout: 60
    force: true

- name: Remove the guest but keep its disks
  hyperdock.platform.guest:
    name: web1
    state: absent
"""

RETURN = r"""
actions:
  description: The plan that was applied (or, in check mode, would be), one entry per action.
  returned: always
  type: list
  elements: dict
  sample:
    - action: update_live
      target: web1
      changes:
        memory: {before: 1G, after: 2G}
applied_live:
  description: Options changed on the running guest (and persisted).
  returned: always
  type: list
  elements: str
  sample: [vcpus, memory, cpu_shares]
pending_reboot:
  description: Options persisted that take effect only when the guest next boots.
  returned: always
  type: list
  elements: str
  sample: [max_memory, interfaces]
hypervisor:
  description: The domain type used and why it was chosen.
  returned: always
  type: dict
  sample: {type: qemu, reason: "/dev/kvm opens, but a KVM guest hung during firmware POST for 8s (nested KVM?); using QEMU TCG"}
guest:
  description: The guest after the run, in the module's vocabulary (empty when absent).
  returned: always
  type: dict
  sample: {name: web1, state: running, vcpus: 2, memory: 1G, interfaces: [{network: default, mac: "52:54:00:12:34:56"}],
           labels: {role: docker}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hyperdock.platform.plugins.module_utils._libvirt_apply import run_guest

IOTUNE = dict(
    total_bytes_sec=dict(type="str"), read_bytes_sec=dict(type="str"), write_bytes_sec=dict(type="str"),
    total_iops_sec=dict(type="int"), read_iops_sec=dict(type="int"), write_iops_sec=dict(type="int"),
)
DISK = dict(
    path=dict(type="path"), pool=dict(type="str"), volume=dict(type="str"), size=dict(type="str"),
    base_image=dict(type="path"), format=dict(type="str"), target=dict(type="str"),
    bus=dict(type="str", choices=["virtio", "sata", "scsi", "ide", "usb", "xen"]),
    cache=dict(type="str", choices=["default", "none", "writethrough", "writeback", "directsync", "unsafe"]),
    device=dict(type="str", choices=["disk", "cdrom"], default="disk"), readonly=dict(type="bool", default=False),
    iotune=dict(type="dict", options=IOTUNE),
)
INTERFACE = dict(network=dict(type="str"), bridge=dict(type="str"), mac=dict(type="str"), model=dict(type="str"))
CLOUD_INIT = dict(
    user_data=dict(type="raw"), meta_data=dict(type="raw"), network_config=dict(type="raw"),
    ssh_authorized_keys=dict(type="list", elements="str", no_log=False), path=dict(type="path"),
)


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            uri=dict(type="str", default="qemu:///system"),
            name=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "running", "stopped", "paused", "absent"]),
            apply=dict(type="str", default="live", choices=["live", "reboot", "next_boot"]),
            hypervisor=dict(type="str", default="auto", choices=["auto", "kvm", "qemu", "xen"]),
            xen_mode=dict(type="str", choices=["pv", "pvh", "hvm"]),
            vcpus=dict(type="int"), max_vcpus=dict(type="int"),
            memory=dict(type="str"), max_memory=dict(type="str"),
            cpu_mode=dict(type="str", choices=["host-passthrough", "host-model", "custom", "maximum"]),
            cpu_model=dict(type="str"), machine=dict(type="str"),
            firmware=dict(type="str", choices=["bios", "uefi"]), autostart=dict(type="bool"), labels=dict(type="dict"),
            kernel=dict(type="path"), initrd=dict(type="path"), cmdline=dict(type="str"), bootloader=dict(type="str"),
            disks=dict(type="list", elements="dict", options=DISK),
            interfaces=dict(type="list", elements="dict", options=INTERFACE),
            cloud_init=dict(type="dict", options=CLOUD_INIT),
            cpu_shares=dict(type="int"), cpu_quota=dict(type="int"), cpu_period=dict(type="int"),
            cpu_pinning=dict(type="dict"),
            memory_hard_limit=dict(type="str"), memory_soft_limit=dict(type="str"), swap_hard_limit=dict(type="str"),
            blkio_weight=dict(type="int"),
            xml=dict(type="str"),
            timeout=dict(type="int", default=120), force=dict(type="bool", default=False),
            remove_storage=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    run_guest(module)


if __name__ == "__main__":
    main()
