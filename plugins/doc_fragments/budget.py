# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options that set a hypervisor's guest budget (hypervisor_info, guest_budget)."""

from __future__ import annotations


class ModuleDocFragment:

    DOCUMENTATION = r"""
options:
  reserved_memory:
    description: Memory kept for the host itself, not available to guests, such as V(1G).
    type: str
    default: "0"
  reserved_cpus:
    description: CPUs kept for the host itself.
    type: int
    default: 0
  cpu_overcommit:
    description: How many guest vCPUs each host CPU may carry (V(1.0) is no overcommit).
    type: float
    default: 1.0
  memory_overcommit:
    description: How much guest memory each byte of host memory may carry (V(1.0) is no overcommit).
    type: float
    default: 1.0
notes:
  - The budget is (host CPUs - O(reserved_cpus)) x O(cpu_overcommit) vCPUs and (host memory - O(reserved_memory))
    x O(memory_overcommit), rounded down to whole MiB.
  - A guest counts with its ceilings, the maximum vCPUs and maximum memory it can be raised to live, so a
    budget holds whatever the guests are later hot-plugged or ballooned to.
"""
