"""Shared pytest set-up: run from the working tree as the collection hyperdock.platform."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COLLECTIONS = ROOT / ".collections"

# Unit tests import the collection as `ansible_collections.hyperdock.platform`.
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
# Shared test helpers import as `helpers.<name>` whatever pytest's import mode.
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

os.environ.setdefault("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))
os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", str(COLLECTIONS))


def pytest_configure(config):
    link = COLLECTIONS / "ansible_collections" / "hyperdock" / "platform"
    if not (link / "galaxy.yml").exists():
        raise SystemExit(f"{link} is missing: run `make setup` (scripts/setup.sh) first")


def _answers(cmd: list[str]) -> tuple[bool, str]:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    return proc.returncode == 0, (proc.stderr or proc.stdout).strip()


@pytest.fixture(scope="session")
def dockerd() -> str:
    """The local dockerd; fails (never skips) when it does not answer."""
    ok, out = _answers(["docker", "version", "--format", "{{.Server.Version}}"])
    if not ok:
        pytest.fail(f"dockerd does not answer on the local socket ({out}); run `make setup` or scripts/daemons.sh", pytrace=False)
    return out


@pytest.fixture(scope="session")
def libvirtd() -> str:
    """qemu:///system; fails (never skips) when libvirtd does not answer."""
    ok, out = _answers(["virsh", "-c", "qemu:///system", "version", "--daemon"])
    if not ok:
        pytest.fail(f"libvirtd does not answer on qemu:///system ({out}); run `make setup` or scripts/daemons.sh", pytrace=False)
    return out


@pytest.fixture(scope="session")
def chromium():
    """Headless Chromium (helpers.browser.Chromium); fails (never skips) when it is not installed."""
    from helpers.browser import CANDIDATES, Chromium, find_chromium

    binary = find_chromium()
    if binary is None:
        pytest.fail(f"no headless browser on PATH (looked for {', '.join(CANDIDATES)}); install it with "
                    "`apt-get install chromium` (scripts/setup.sh does)", pytrace=False)
    return Chromium(binary)
