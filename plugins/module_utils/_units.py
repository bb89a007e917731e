# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One vocabulary for resource limits, shared by guests and services.

Every size (``512M``, ``2G``), CPU amount (``1.5``), cpuset (``0-2,4``) and
share/weight value that a user writes is parsed and validated here, and every
value a module reports back is formatted here, so a guest's ``memory`` and a
container's ``memory`` read and print the same way.

Sizes are binary, as both libvirt (KiB) and Docker (``RAMInBytes``) use them:
``1K`` is 1024 bytes, ``1M`` is 1024 KiB, and so on.  ``KiB``/``KB``/``k`` are
all accepted spellings of the same unit.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4, "P": 1024 ** 5}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtpKMGTP]?)(?:i?[bB])?\s*$")

SIZE_HINT = "a whole number of bytes or a number with a unit B, K, M, G or T (binary), such as 512M or 2G"
CPUS_HINT = "a positive number of CPUs with at most 3 decimals, such as 0.5, 1 or 2.25"
CPUSET_HINT = "CPU numbers and ranges such as 0-2,4"

NANO = 10 ** 9


class LimitError(ValueError):
    """A value the user wrote that is not valid for its option.

    ``str()`` of it is the message shown to the user: it names the option, the
    value and what would have been accepted.
    """

    def __init__(self, option: str, value: object, expected: str) -> None:
        self.option = option
        self.value = value
        self.expected = expected
        super().__init__(f"{option}: {value!r} is not valid; expected {expected}")


def parse_size(value: object, option: str, minimum: int = 0) -> int:
    """Return ``value`` in bytes.

    Integers are bytes.  Strings take an optional binary unit.  A fractional
    amount is allowed only when it comes to a whole number of bytes
    (``1.5G`` yes, ``0.3B`` no).
    """
    if isinstance(value, bool):
        raise LimitError(option, value, SIZE_HINT)
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        match = _SIZE_RE.match(value)
        if not match:
            raise LimitError(option, value, SIZE_HINT)
        amount = Decimal(match.group(1)) * _UNITS[match.group(2).upper()]
        if amount != amount.to_integral_value():
            raise LimitError(option, value, SIZE_HINT + " that comes to a whole number of bytes")
        number = int(amount)
    else:
        raise LimitError(option, value, SIZE_HINT)
    if number < minimum:
        raise LimitError(option, value, f"{SIZE_HINT}, at least {format_size(minimum)}")
    return number


def format_size(number: int | None) -> str | None:
    """Format bytes with the largest binary unit that divides them exactly."""
    if number is None:
        return None
    if number == 0:
        return "0"
    for suffix in ("T", "G", "M", "K"):
        unit = _UNITS[suffix]
        if number % unit == 0:
            return f"{number // unit}{suffix}"
    return f"{number}B"


def parse_cpus(value: object, option: str, minimum: Decimal = Decimal("0.001")) -> Decimal:
    """Return a CPU amount as an exact ``Decimal`` with at most 3 decimals."""
    if isinstance(value, bool):
        raise LimitError(option, value, CPUS_HINT)
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise LimitError(option, value, CPUS_HINT) from None
    if not amount.is_finite() or amount < minimum or amount != amount.quantize(Decimal("0.001")):
        raise LimitError(option, value, CPUS_HINT)
    return amount


def cpus_to_nano(amount: Decimal | None) -> int | None:
    """Docker's NanoCpus for a CPU amount."""
    return None if amount is None else int(amount * NANO)


def format_cpus(nano: int | None) -> str | None:
    """Format NanoCpus the way a user writes CPUs: ``1.5``, ``2``, ``0.25``."""
    if not nano:
        return None
    text = format(Decimal(nano) / NANO, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def parse_cpuset(value: object, option: str, cpu_count: int | None = None) -> tuple[int, ...]:
    """Return the sorted CPU numbers of a cpuset string such as ``0-2,4``.

    With ``cpu_count``, every CPU must exist on the host (``0`` to
    ``cpu_count - 1``).
    """
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, (list, tuple)):
        value = ",".join(str(item) for item in value)
    if not isinstance(value, str) or not value.strip():
        raise LimitError(option, value, CPUSET_HINT)
    cpus: set[int] = set()
    for part in value.replace(" ", "").split(","):
        bounds = part.split("-")
        if len(bounds) > 2 or not all(b.isdigit() for b in bounds):
            raise LimitError(option, value, CPUSET_HINT)
        low, high = int(bounds[0]), int(bounds[-1])
        if low > high:
            raise LimitError(option, value, CPUSET_HINT + " with each range written low-high")
        cpus.update(range(low, high + 1))
    if cpu_count is not None and max(cpus) >= cpu_count:
        raise LimitError(option, value, f"{CPUSET_HINT} within the host's CPUs 0-{cpu_count - 1}")
    return tuple(sorted(cpus))


def format_cpuset(cpus: tuple[int, ...] | list[int] | None) -> str | None:
    """Format CPU numbers as the shortest cpuset string: ``(0, 1, 2, 4)`` is ``0-2,4``."""
    if not cpus:
        return None
    ordered = sorted(set(cpus))
    parts: list[str] = []
    start = prev = ordered[0]
    for cpu in [*ordered[1:], None]:
        if cpu is not None and cpu == prev + 1:
            prev = cpu
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if cpu is not None:
            start = prev = cpu
    return ",".join(parts)


def parse_int(value: object, option: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return a whole number within ``[minimum, maximum]`` (shares, weights, pids)."""
    bounds = []
    if minimum is not None:
        bounds.append(f"at least {minimum}")
    if maximum is not None:
        bounds.append(f"at most {maximum}")
    expected = "a whole number" + (" " + " and ".join(bounds) if bounds else "")
    if isinstance(value, bool):
        raise LimitError(option, value, expected)
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise LimitError(option, value, expected) from None
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise LimitError(option, value, expected)
    return number
