from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hyperdock.platform.plugins.filter.units import FilterModule

F = FilterModule().filters()


def test_size_filters_use_the_modules_vocabulary():
    assert F["to_bytes"]("2G") == 2 * 1024**3
    assert F["human_size"](3 * 1024**3) == "3G"
    assert F["human_size"]("1536") == "1536B"


def test_cpu_filters():
    assert F["to_cpus"]("1.5") == 1.5
    assert F["human_cpus"](1.50) == "1.5"
    assert F["human_cpus"](2) == "2"


@pytest.mark.parametrize(("name", "value", "message"), [
    ("to_bytes", "-1G", "guest_memory: '-1G' is not valid"),
    ("to_cpus", -1, "guest_memory: -1 is not valid"),
])
def test_bad_values_name_the_option(name, value, message):
    with pytest.raises(AnsibleFilterError, match="^" + message):
        F[name](value, "guest_memory")


def test_human_size_rejects_non_numbers():
    with pytest.raises(AnsibleFilterError, match="human_size: 'lots' is not a whole number of bytes"):
        F["human_size"]("lots")
