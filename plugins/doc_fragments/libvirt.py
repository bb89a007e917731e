# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation shared by the libvirt modules: the connection, and the attributes."""

from __future__ import annotations


class ModuleDocFragment:

    DOCUMENTATION = r"""
options:
  uri:
    description:
      - The libvirt connection URI.
      - V(qemu:///system) for KVM/QEMU, V(xen:///system) for Xen (libxl), V(test:///default) for libvirt's
        in-memory test driver.
      - Set it once for a play with C(module_defaults) and the action group C(group/hyperdock.platform.libvirt).
    type: str
    default: qemu:///system
requirements:
  - libvirt-python on the managed host
notes:
  - The modules talk to libvirt through one shared backend in the collection's module_utils; libvirt errors
    are reported naming the option they concern.
"""

    ATTRIBUTES = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation
        indicates no change.
  action_group:
    description: Use C(group/hyperdock.platform.libvirt) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - hyperdock.platform.libvirt
"""
