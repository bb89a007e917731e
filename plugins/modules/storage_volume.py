#!/usr/bin/python
# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: storage_volume
short_description: A volume in a libvirt storage pool; create, grow, clone, back or import it
version_added: 0.1.0
description:
  - Creates a volume of O(size), as a full copy of another volume (O(clone_from)), as a qcow2 overlay of a base
    image (O(backing_image)), or from a local file (O(import_from)).
  - An existing volume is never re-created, re-cloned or overwritten. A larger O(size) grows it; a smaller one
    fails, volumes never shrink. It is deleted only with O(state=absent).
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
    description: The volume name, such as V(web1.qcow2).
    type: str
    required: true
  pool:
    description: The storage pool.
    type: str
    required: true
  state:
    description: V(present) or V(absent).
    type: str
    choices: [present, absent]
    default: present
  size:
    description: The size, such as V(20G). Required for a new empty volume; a larger value grows an existing one.
    type: str
  format:
    description: The volume format. Defaults to V(qcow2) (for O(import_from), the file's own format).
    type: str
  clone_from:
    description: A volume (name in O(pool), or a path) to copy in full into the new volume.
    type: str
  backing_image:
    description: A base image the new qcow2 volume is backed by; the base is never written.
    type: path
  import_from:
    description: A local file uploaded into the new volume.
    type: path
seealso:
  - module: hyperdock.platform.storage_pool
  - module: hyperdock.platform.guest
"""

EXAMPLES = r"""
- name: A 20G disk backed by a cloud image
  hyperdock.platform.storage_volume:
    pool: guests
    name: web1.qcow2
    size: 20G
    backing_image: /srv/images/debian-12-genericcloud-amd64.qcow2

- name: Import an image once
  hyperdock.platform.storage_volume:
    pool: guests
    name: debian-12.qcow2
    import_from: /tmp/debian-12-genericcloud-amd64.qcow2
"""

RETURN = r"""
actions:
  description: The plan that was applied (or would be, in check mode).
  returned: always
  type: list
  elements: dict
volume:
  description: The volume after the run (empty when absent).
  returned: always
  type: dict
  sample: {name: web1.qcow2, pool: guests, size: 20G, format: qcow2}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hyperdock.platform.plugins.module_utils._libvirt_storage import run_volume


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            uri=dict(type="str", default="qemu:///system"),
            name=dict(type="str", required=True),
            pool=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            size=dict(type="str"),
            format=dict(type="str"),
            clone_from=dict(type="str"),
            backing_image=dict(type="path"),
            import_from=dict(type="path"),
        ),
        mutually_exclusive=[("clone_from", "backing_image", "import_from")],
        supports_check_mode=True,
    )
    run_volume(module)


if __name__ == "__main__":
    main()
