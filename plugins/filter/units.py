# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the collection's one vocabulary for limits (module_utils/_units)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.hyperdock.platform.plugins.module_utils._units import LimitError, format_cpus, format_size, parse_cpus, parse_size


def to_bytes(value, option="value"):
    """``'2G' | hyperdock.platform.to_bytes`` is 2147483648."""
    try:
        return parse_size(value, option)
    except LimitError as exc:
        raise AnsibleFilterError(str(exc)) from None


def human_size(value):
    """``2147483648 | hyperdock.platform.human_size`` is ``'2G'``."""
    try:
        return format_size(int(value))
    except (TypeError, ValueError):
        raise AnsibleFilterError(f"human_size: {value!r} is not a whole number of bytes") from None


def to_cpus(value, option="value"):
    """``'1.5' | hyperdock.platform.to_cpus`` is 1.5, checked as the modules check cpus."""
    try:
        return float(parse_cpus(value, option))
    except LimitError as exc:
        raise AnsibleFilterError(str(exc)) from None


def human_cpus(value):
    """``1.5 | hyperdock.platform.human_cpus`` is ``'1.5'``."""
    try:
        return format_cpus(round(float(value) * 10**9))
    except (TypeError, ValueError):
        raise AnsibleFilterError(f"human_cpus: {value!r} is not a number of CPUs") from None


class FilterModule:
    def filters(self):
        return {"to_bytes": to_bytes, "human_size": human_size, "to_cpus": to_cpus, "human_cpus": human_cpus}
