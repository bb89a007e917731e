#!/usr/bin/python
# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: storage_pool
short_description: A libvirt storage pool (directory or LVM volume group)
version_added: 0.1.0
description:
  - Defines, starts, stops and removes a libvirt storage pool. Removing a pool removes its definition only;
    the data of its volumes is left in place.
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
    description: The pool name.
    type: str
    required: true
  state:
    description:
      - V(active) defines and starts the pool, V(inactive) defines it and stops it, V(present) defines it and
        leaves it as it is, V(absent) stops and undefines it.
    type: str
    choices: [active, inactive, present, absent]
    default: active
  type:
    description: V(dir) for a directory, V(logical) for an LVM volume group.
    type: str
    choices: [dir, logical]
    default: dir
  path:
    description: The directory of a V(dir) pool (created when missing). For V(logical), defaults to C(/dev/<source_name>).
    type: path
  source_name:
    description: The volume group of a V(logical) pool. Defaults to O(name).
    type: str
  devices:
    description: Physical volumes of a V(logical) pool, used only with O(build=true).
    type: list
    elements: path
  build:
    description:
      - Build a new V(logical) pool's volume group on O(devices) (destructive for those devices).
        A V(dir) pool's directory is always created.
    type: bool
    default: false
  autostart:
    description: Whether libvirtd starts the pool when the host boots.
    type: bool
seealso:
  - module: hyperdock.platform.storage_volume
"""

EXAMPLES = r"""
- name: A directory pool for guest disks
  hyperdock.platform.storage_pool:
    name: guests
    path: /srv/guests
    autostart: true

- name: An existing volume group as a pool
  hyperdock.platform.storage_pool:
    name: vg_guests
    type: logical
"""

RETURN = r"""
actions:
  description: The plan that was applied (or would be, in check mode).
  returned: always
  type: list
  elements: dict
pool:
  description: The pool after the run (empty when absent).
  returned: always
  type: dict
  sample: {type: dir, path: /srv/guests, active: true, autostart: true}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hyperdock.platform.plugins.module_utils._libvirt_storage import run_pool


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            uri=dict(type="str", default="qemu:///system"),
            name=dict(type="str", required=True),
            state=dict(type="str", default="active", choices=["active", "inactive", "present", "absent"]),
            type=dict(type="str", default="dir", choices=["dir", "logical"]),
            path=dict(type="path"),
            source_name=dict(type="str"),
            devices=dict(type="list", elements="path"),
            build=dict(type="bool", default=False),
            autostart=dict(type="bool"),
        ),
        supports_check_mode=True,
    )
    run_pool(module)


if __name__ == "__main__":
    main()
