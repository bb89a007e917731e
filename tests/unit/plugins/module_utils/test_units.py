from __future__ import annotations

from decimal import Decimal

import pytest

from ansible_collections.hyperdock.platform.plugins.module_utils._units import (
    LimitError,
    cpus_to_nano,
    format_cpus,
    format_cpuset,
    format_size,
    parse_cpus,
    parse_cpuset,
    parse_int,
    parse_size,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (0, 0),
        (1536, 1536),
        ("512", 512),
        ("512B", 512),
        ("1K", 1024),
        ("1k", 1024),
        ("1KiB", 1024),
        ("1KB", 1024),
        ("512M", 512 * 1024**2),
        ("512m", 512 * 1024**2),
        ("2G", 2 * 1024**3),
        ("2GiB", 2 * 1024**3),
        ("1.5G", 1536 * 1024**2),
        (" 4 G ", 4 * 1024**3),
        ("1T", 1024**4),
        (2.0, 2),
    ],
)
def test_parse_size_accepts_the_spellings_users_write(text, expected):
    assert parse_size(text, "memory") == expected


@pytest.mark.parametrize("text", ["2X", "12Q", "", "G", "-1G", "1.2.3M", "0.3B", True, None, [1], "1e3"])
def test_parse_size_rejects_with_option_and_value_named(text):
    with pytest.raises(LimitError) as err:
        parse_size(text, "memory")
    message = str(err.value)
    assert message.startswith("memory: ")
    assert repr(text) in message
    assert "512M" in message  # says what would be accepted


def test_parse_size_minimum_names_the_minimum():
    with pytest.raises(LimitError, match="at least 4M"):
        parse_size("1M", "memory", minimum=4 * 1024**2)


@pytest.mark.parametrize(
    ("number", "text"),
    [(None, None), (0, "0"), (1024, "1K"), (512 * 1024**2, "512M"), (1536 * 1024**2, "1536M"), (3 * 1024**3, "3G"), (1000, "1000B"), (1024**4, "1T")],
)
def test_format_size_is_the_shortest_exact_spelling(number, text):
    assert format_size(number) == text


@pytest.mark.parametrize("text", ["1B", "512M", "1536M", "2G", "1000B", "7K"])
def test_size_round_trips(text):
    assert format_size(parse_size(text, "x")) == text


@pytest.mark.parametrize(("value", "nano"), [("1.5", 1_500_000_000), (2, 2_000_000_000), ("0.25", 250_000_000), (0.001, 1_000_000)])
def test_cpus_to_nano(value, nano):
    assert cpus_to_nano(parse_cpus(value, "cpus")) == nano


@pytest.mark.parametrize("value", [-1, "-1", 0, "0", "abc", "1.0001", True, "nan", "inf", None])
def test_parse_cpus_rejects(value):
    with pytest.raises(LimitError, match=r"^cpus: .*positive number of CPUs"):
        parse_cpus(value, "cpus")


@pytest.mark.parametrize(("nano", "text"), [(None, None), (0, None), (1_500_000_000, "1.5"), (2_000_000_000, "2"), (250_000_000, "0.25")])
def test_format_cpus(nano, text):
    assert format_cpus(nano) == text


def test_parse_cpus_is_exact_decimal():
    assert parse_cpus("0.1", "cpus") + parse_cpus("0.2", "cpus") == Decimal("0.3")


@pytest.mark.parametrize(
    ("text", "cpus"),
    [("0", (0,)), (1, (1,)), ("0-2,4", (0, 1, 2, 4)), ("4,0-2", (0, 1, 2, 4)), ("0, 1", (0, 1)), ([0, 3], (0, 3))],
)
def test_parse_cpuset(text, cpus):
    assert parse_cpuset(text, "cpuset_cpus") == cpus


@pytest.mark.parametrize("text", ["", "a", "1-", "3-1", "0-1-2", "-1", None])
def test_parse_cpuset_rejects(text):
    with pytest.raises(LimitError, match=r"^cpuset_cpus: "):
        parse_cpuset(text, "cpuset_cpus")


def test_parse_cpuset_outside_the_host_names_the_host_range():
    with pytest.raises(LimitError, match=r"within the host's CPUs 0-1"):
        parse_cpuset("0-3", "cpuset_cpus", cpu_count=2)


@pytest.mark.parametrize(("cpus", "text"), [((), None), ((0,), "0"), ((0, 1, 2, 4), "0-2,4"), ((3, 1, 2), "1-3"), ((0, 2, 4), "0,2,4")])
def test_format_cpuset(cpus, text):
    assert format_cpuset(cpus) == text


def test_parse_int_bounds():
    assert parse_int("10", "cpu_shares", minimum=2) == 10
    with pytest.raises(LimitError, match=r"^blkio_weight: 5 is not valid; expected a whole number at least 10 and at most 1000$"):
        parse_int(5, "blkio_weight", minimum=10, maximum=1000)
    with pytest.raises(LimitError):
        parse_int(True, "pids_limit")
    with pytest.raises(LimitError):
        parse_int("many", "pids_limit")
