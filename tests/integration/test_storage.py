"""storage_pool and storage_volume as real Ansible tasks against qemu:///system (no guest is booted)."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

libvirt = pytest.importorskip("libvirt")
pytestmark = pytest.mark.slow
POOL = f"hdk-it-pool-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def pool_dir(scratch_dir: Path, libvirtd: str):
    scratch_dir.chmod(0o711)
    path = scratch_dir / "pool"
    yield path
    conn = libvirt.open("qemu:///system")
    try:
        pool = conn.storagePoolLookupByName(POOL)
        if pool.isActive():
            for name in pool.listVolumes():
                pool.storageVolLookupByName(name).delete(0)
            pool.destroy()
        pool.undefine()
    except libvirt.libvirtError:
        pass
    finally:
        conn.close()


def volumes() -> dict[str, int]:
    conn = libvirt.open("qemu:///system")
    try:
        pool = conn.storagePoolLookupByName(POOL)
        pool.refresh(0)
        return {n: pool.storageVolLookupByName(n).info()[1] for n in pool.listVolumes()}
    finally:
        conn.close()


def test_pool_and_volumes(run_task, pool_dir):
    args = {"name": POOL, "path": str(pool_dir), "autostart": False}
    assert run_task("hyperdock.platform.storage_pool", args, check=True)["changed"]
    assert not pool_dir.exists()
    first = run_task("hyperdock.platform.storage_pool", args)
    assert [a["action"] for a in first["actions"]] == ["create", "start"] and pool_dir.is_dir()
    assert run_task("hyperdock.platform.storage_pool", args)["changed"] is False

    vol = {"pool": POOL, "name": "a.qcow2", "size": "64M"}
    assert run_task("hyperdock.platform.storage_volume", vol, check=True)["changed"]
    assert volumes() == {}
    assert run_task("hyperdock.platform.storage_volume", vol)["changed"]
    assert volumes() == {"a.qcow2": 64 * 1024 ** 2}
    assert run_task("hyperdock.platform.storage_volume", vol)["changed"] is False

    grow = run_task("hyperdock.platform.storage_volume", dict(vol, size="128M"), diff=True)
    assert grow["diff"]["before"]["size"] == "64M" and grow["diff"]["after"]["size"] == "128M"
    shrink = run_task("hyperdock.platform.storage_volume", dict(vol, size="32M"), expect_failure=True)
    assert "size: '32M' is not valid" in shrink["msg"] and "never shrunk" in shrink["msg"]
    assert volumes()["a.qcow2"] == 128 * 1024 ** 2

    backed = {"pool": POOL, "name": "b.qcow2", "backing_image": str(pool_dir / "a.qcow2")}
    assert run_task("hyperdock.platform.storage_volume", backed)["changed"]
    info = subprocess.run(["qemu-img", "info", "--force-share", str(pool_dir / "b.qcow2")], capture_output=True, text=True, check=True).stdout
    assert "backing file: " + str(pool_dir / "a.qcow2") in info
    assert run_task("hyperdock.platform.storage_volume", backed)["changed"] is False

    clone = {"pool": POOL, "name": "c.qcow2", "clone_from": "a.qcow2"}
    assert run_task("hyperdock.platform.storage_volume", clone)["changed"]
    raw = pool_dir.parent / "import.raw"
    raw.write_bytes(b"hyperdock" * 1000)
    imported = {"pool": POOL, "name": "d.raw", "import_from": str(raw)}
    assert run_task("hyperdock.platform.storage_volume", imported)["changed"]
    assert (pool_dir / "d.raw").read_bytes() == raw.read_bytes()
    assert run_task("hyperdock.platform.storage_volume", imported)["changed"] is False  # never re-imported

    gone = run_task("hyperdock.platform.storage_volume", dict(clone, state="absent"))
    assert gone["changed"] and "c.qcow2" not in volumes()

    bad = run_task("hyperdock.platform.storage_volume", {"pool": POOL, "name": "x", "size": "2X"}, expect_failure=True)
    assert "size: '2X' is not valid" in bad["msg"]
