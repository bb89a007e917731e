# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Attribute support shared by modules that only read: every *_info module and guest_budget."""

from __future__ import annotations


class ModuleDocFragment:

    # Use together with hyperdock.platform.libvirt.attributes or hyperdock.platform.docker (whose
    # DOCUMENTATION describes the attributes); this says how a read-only module supports them.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    support: full
    details: This module does not change anything.
  diff_mode:
    support: N/A
    details: This module does not change anything.
  idempotent:
    support: full
    details: This module does not change anything.
"""
