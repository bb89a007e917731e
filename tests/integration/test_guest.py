"""hyperdock.platform.guest and guest_info as real Ansible tasks against qemu:///system.

One tiny guest is booted for the whole module: a direct-kernel boot of the Debian kernel and initrd that
scripts/images/build.sh builds (no root disk is needed; the initrd keeps QEMU running), with one small new
qcow2 disk and a cloud-init seed.  TCG is used when KVM is not usable, as the module decides.
Everything that needs no real QEMU (bad input, unreachable URI) runs against test:///default.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGES = Path(os.environ.get("HYPERDOCK_CACHE", "/var/cache/hyperdock")) / "guest" / "current"
NAME = f"hdk-it-{uuid.uuid4().hex[:6]}"

libvirt = pytest.importorskip("libvirt")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def workdir(scratch_dir: Path) -> Path:
    """A directory the qemu user can reach (mkdtemp makes scratch_dir 0700)."""
    scratch_dir.chmod(0o711)
    path = scratch_dir / "guest"
    path.mkdir(mode=0o755, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def guest_images(workdir: Path) -> dict[str, str]:
    """vmlinuz and initrd.img from scripts/images/build.sh guest (cached, idempotent), copied where qemu reads them.

    HYPERDOCK_GUEST_IMAGES may point at a directory with the same two files (for developing before the image
    build exists); otherwise the build runs and a failure fails the test with its output.
    """
    source = Path(os.environ.get("HYPERDOCK_GUEST_IMAGES", str(IMAGES)))
    if "HYPERDOCK_GUEST_IMAGES" not in os.environ:
        proc = subprocess.run(["bash", str(ROOT / "scripts" / "images" / "build.sh"), "guest"], capture_output=True,
                              text=True, check=False, timeout=3600)
        if proc.returncode != 0:
            pytest.fail(f"`scripts/images/build.sh guest` failed (rc={proc.returncode}); the guest tests need its "
                        f"vmlinuz and initrd.img:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}", pytrace=False)
    files = {}
    for name in ("vmlinuz", "initrd.img"):
        if not (source / name).is_file():
            pytest.fail(f"{source / name} does not exist after `scripts/images/build.sh guest`", pytrace=False)
        files[name] = str(shutil.copy(source / name, workdir / name))
    return files


@pytest.fixture(scope="module")
def conn(libvirtd: str):
    c = libvirt.open("qemu:///system")
    yield c
    c.close()


@pytest.fixture(scope="module")
def tiny(guest_images: dict[str, str], workdir: Path, conn) -> dict[str, Any]:
    """The options of the one tiny guest; it is destroyed and undefined at teardown, whatever happened."""
    args = {
        "name": NAME, "state": "running", "vcpus": 1, "max_vcpus": 2, "memory": "192M", "max_memory": "256M",
        "kernel": guest_images["vmlinuz"], "initrd": guest_images["initrd.img"], "cmdline": "console=ttyS0",
        "disks": [{"path": str(workdir / f"{NAME}.qcow2"), "size": "64M"}],
        "interfaces": [{"network": "default"}],
        "cloud_init": {"user_data": {"hostname": NAME}, "ssh_authorized_keys": ["ssh-ed25519 AAAAtest it@hyperdock"],
                       "path": str(workdir / f"{NAME}-cidata.iso")},
        "labels": {"role": "docker", "tier": "web"},
        "timeout": 5, "force": True,
    }
    yield args
    try:
        dom = conn.lookupByName(NAME)
    except libvirt.libvirtError:
        return
    if dom.isActive():
        dom.destroy()
    dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)


def dom_of(conn):
    return conn.lookupByName(NAME)


def kinds(result: dict[str, Any]) -> list[str]:
    return [a["action"] for a in result["actions"]]


LABELS_URI = "https://hyperdock.dev/xmlns/guest/1"


def labels_of(dom, flag: int) -> dict[str, str]:
    """The guest's labels as libvirt has them (live or persistent), read without the collection's code."""
    try:
        xml = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, LABELS_URI, flag)
    except libvirt.libvirtError:
        return {}
    return {e.get("name"): e.text or "" for e in ET.fromstring(xml)}


def test_1_create_check_mode_then_real(run_task, tiny, conn, workdir):
    predicted = run_task("hyperdock.platform.guest", tiny, check=True, diff=True)
    assert predicted["changed"] and kinds(predicted) == ["create", "create", "start"]
    with pytest.raises(libvirt.libvirtError):
        dom_of(conn)  # check mode changed nothing
    assert not (workdir / f"{NAME}.qcow2").exists()

    result = run_task("hyperdock.platform.guest", tiny)
    assert result["changed"] and kinds(result) == kinds(predicted)
    assert result["hypervisor"]["type"] in ("kvm", "qemu") and result["hypervisor"]["reason"]
    dom = dom_of(conn)
    assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    assert dom.XMLDesc(0).startswith(f"<domain type='{result['hypervisor']['type']}'")
    assert (workdir / f"{NAME}.qcow2").exists() and (workdir / f"{NAME}-cidata.iso").exists()
    assert result["guest"]["interfaces"][0]["mac"] in dom.XMLDesc(0)


def test_2_second_run_is_no_change_and_keeps_mac_and_uuid(run_task, tiny, conn, workdir):
    dom = dom_of(conn)
    before = (dom.UUIDString(), dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE).split("<mac address='")[1][:17])
    iso_mtime = (workdir / f"{NAME}-cidata.iso").stat().st_mtime
    assert run_task("hyperdock.platform.guest", tiny, check=True)["changed"] is False
    result = run_task("hyperdock.platform.guest", tiny)
    assert result["changed"] is False and result["actions"] == []
    dom = dom_of(conn)
    assert (dom.UUIDString(), dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE).split("<mac address='")[1][:17]) == before
    assert (workdir / f"{NAME}-cidata.iso").stat().st_mtime == iso_mtime  # seed not regenerated


LIVE_CHANGE = {
    "vcpus": 2, "memory": "128M", "cpu_shares": 2048, "cpu_quota": 50000, "cpu_period": 100000,
    "memory_hard_limit": "1G", "memory_soft_limit": "512M", "swap_hard_limit": "2G", "blkio_weight": 500,
    "cpu_pinning": {"0": "0", "1": "0-1"},
}


def test_3_limits_change_live_on_the_running_guest(run_task, tiny, conn):
    args = dict(tiny, **LIVE_CHANGE)
    args["disks"] = [dict(tiny["disks"][0], iotune={"total_bytes_sec": "20M", "total_iops_sec": 400})]
    predicted = run_task("hyperdock.platform.guest", args, check=True, diff=True)
    assert kinds(predicted) == ["update_live"], predicted["actions"]
    live = predicted["actions"][0]["changes"]
    assert live["memory"] == {"before": "192M", "after": "128M"}
    assert live["memory_hard_limit"] == {"before": None, "after": "1G"}
    assert predicted["diff"]["before"].get("cpu_shares") != predicted["diff"]["after"]["cpu_shares"] == 2048

    result = run_task("hyperdock.platform.guest", args, diff=True)
    assert result["actions"] == predicted["actions"]  # check mode predicted exactly this run
    assert sorted(result["applied_live"]) == sorted([*list(LIVE_CHANGE), "disks.vda.iotune"])
    assert result["pending_reboot"] == []

    dom = dom_of(conn)
    live_flag, config_flag = libvirt.VIR_DOMAIN_AFFECT_LIVE, libvirt.VIR_DOMAIN_AFFECT_CONFIG
    for flag in (live_flag, config_flag):
        assert dom.vcpusFlags(flag) == 2
        sched = dom.schedulerParametersFlags(flag)
        assert (sched["cpu_shares"], sched["vcpu_quota"], sched["vcpu_period"]) == (2048, 50000, 100000)
        mem = dom.memoryParameters(flag)
        assert (mem["hard_limit"], mem["soft_limit"], mem["swap_hard_limit"]) == (1024 ** 2, 512 * 1024, 2 * 1024 ** 2)
        assert dom.blkioParameters(flag)["weight"] == 500
        tune = dom.blockIoTune("vda", flag)
        assert (tune["total_bytes_sec"], tune["total_iops_sec"]) == (20 * 1024 ** 2, 400)
    assert [list(cpus) for cpus in dom.vcpuPinInfo(live_flag)][1][:2] == [True, True]
    assert "<currentMemory unit='KiB'>131072</currentMemory>" in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)

    again = run_task("hyperdock.platform.guest", args)
    assert again["changed"] is False, again["actions"]
    tiny.update(args)


def test_3b_labels_change_live_and_persist(run_task, tiny, conn):
    dom = dom_of(conn)
    live_flag, config_flag = libvirt.VIR_DOMAIN_AFFECT_LIVE, libvirt.VIR_DOMAIN_AFFECT_CONFIG
    for flag in (live_flag, config_flag):  # created with them by test_1
        assert labels_of(dom, flag) == {"role": "docker", "tier": "web"}
    balloon = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, "https://hyperdock.platform/guest/1", live_flag)

    args = dict(tiny, labels={"role": "docker", "tier": "db & cache", "owner": "team-a"})
    predicted = run_task("hyperdock.platform.guest", args, check=True, diff=True)
    assert kinds(predicted) == ["update_live"], predicted["actions"]
    assert predicted["actions"][0]["changes"] == {"labels": {
        "before": {"role": "docker", "tier": "web"}, "after": {"owner": "team-a", "role": "docker", "tier": "db & cache"}}}
    assert predicted["diff"]["before"]["labels"] == {"role": "docker", "tier": "web"}
    assert predicted["diff"]["after"]["labels"] == args["labels"]
    assert labels_of(dom, live_flag) == labels_of(dom, config_flag) == {"role": "docker", "tier": "web"}  # check mode

    result = run_task("hyperdock.platform.guest", args, diff=True)
    assert result["actions"] == predicted["actions"] and result["diff"] == predicted["diff"]
    assert result["applied_live"] == ["labels"] and result["pending_reboot"] == []
    assert result["guest"]["labels"] == args["labels"]
    for flag in (live_flag, config_flag):
        assert labels_of(dom, flag) == args["labels"]
    # The balloon target test_3 recorded is other metadata: untouched.
    assert dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, "https://hyperdock.platform/guest/1", live_flag) == balloon

    again = run_task("hyperdock.platform.guest", args)
    assert again["changed"] is False, again["actions"]
    assert run_task("hyperdock.platform.guest", dict(args, labels=None))["changed"] is False  # not given: left alone
    tiny.update(args)


def test_4_next_boot_changes_are_reported_pending(run_task, tiny, conn):
    args = dict(tiny, max_memory="384M", max_vcpus=3)
    predicted = run_task("hyperdock.platform.guest", args, check=True)
    result = run_task("hyperdock.platform.guest", args)
    assert kinds(result) == kinds(predicted) == ["update_next_boot"]
    assert sorted(result["pending_reboot"]) == ["max_memory", "max_vcpus"] and result["applied_live"] == []
    dom = dom_of(conn)
    assert dom.maxMemory() == 256 * 1024  # live maximum unchanged...
    assert "<memory unit='KiB'>393216</memory>" in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)  # ...config changed
    assert run_task("hyperdock.platform.guest", args)["changed"] is False
    tiny.update(args)


def test_5_guest_info_reports_the_module_vocabulary(run_task, tiny):
    info = run_task("hyperdock.platform.guest_info", {"name": NAME})
    assert info["changed"] is False and info["exists"]
    guest = info["guests"][0]
    assert guest["state"] == "running" and guest["hypervisor"] in ("kvm", "qemu")
    assert guest["cpu_shares"] == 2048 and guest["memory_hard_limit"] == "1G" and guest["max_memory"] == "384M"
    assert guest["disks"][0]["iotune"] == {"total_bytes_sec": "20M", "total_iops_sec": 400}
    assert guest["interfaces"][0]["mac"].startswith("52:54:00:") and "addresses" in guest["interfaces"][0]
    assert guest["live"]["vcpus"] == 2 and guest["live"]["memory_target"] == "128M"
    everything = run_task("hyperdock.platform.guest_info", {})
    assert NAME in [g["name"] for g in everything["guests"]]


def test_5b_guest_info_reports_labels_and_usage(run_task, tiny, conn):
    guest = run_task("hyperdock.platform.guest_info", {"name": NAME})["guests"][0]
    assert guest["labels"] == tiny["labels"] and guest["live"]["labels"] == tiny["labels"]
    usage = guest["usage"]
    assert usage["cpu_time_seconds"] > 0
    assert usage["memory_rss_bytes"] > 16 * 1024 ** 2  # a QEMU process with a booted guest
    assert usage["memory_rss"].endswith(("K", "M", "G")) and usage["memory_rss_bytes"] % 1024 == 0
    vda = next(d for d in usage["disks"] if d["target"] == "vda")
    assert 0 < vda["allocation_bytes"] <= 64 * 1024 ** 2 + 1024 ** 2 and vda["allocation"]
    # The guest was given a balloon that reports statistics; whether this initrd-only guest loads its driver
    # decides memory_used (the lab's full guests do: tests/lab), so here it is a size or null, never junk.
    stats = ET.fromstring(dom_of(conn).XMLDesc(0)).find("devices/memballoon/stats")
    assert stats is not None and stats.get("period") == "10"
    assert usage["memory_used"] is None or usage["memory_used_bytes"] < 256 * 1024 ** 2


def test_6_stop_then_absent_keeps_the_disk(run_task, tiny, conn, workdir):
    stop = dict(tiny, state="stopped")
    assert kinds(run_task("hyperdock.platform.guest", stop, check=True)) == ["stop"]
    result = run_task("hyperdock.platform.guest", stop)
    assert kinds(result) == ["stop"]
    assert dom_of(conn).state()[0] == libvirt.VIR_DOMAIN_SHUTOFF
    assert run_task("hyperdock.platform.guest", stop)["changed"] is False

    gone = {"name": NAME, "state": "absent"}
    assert kinds(run_task("hyperdock.platform.guest", gone, check=True)) == ["delete"]
    dom_of(conn)  # still there after check mode
    assert kinds(run_task("hyperdock.platform.guest", gone)) == ["delete"]
    with pytest.raises(libvirt.libvirtError):
        dom_of(conn)
    assert (workdir / f"{NAME}.qcow2").exists()  # disks are kept unless remove_storage
    assert run_task("hyperdock.platform.guest", gone)["changed"] is False


# ---------------------------------------------------------------- bad input: fails naming option and value, changes nothing

BAD = [
    ({"memory": "2X"}, "memory: '2X' is not valid"),
    ({"vcpus": 4, "max_vcpus": 2}, "vcpus: 4 is not valid; expected at most max_vcpus (2)"),
    ({"memory": "512M", "memory_hard_limit": "256M"}, "memory_hard_limit: '256M' is not valid; expected at least the guest's memory"),
    ({"interfaces": [{"network": "no-such-net"}]}, "interfaces[0].network: 'no-such-net': no such libvirt network"),
    ({"xml": "<domain><devices>"}, "xml: the overlay is not well-formed XML"),
    ({"uri": "qemu+unix:///system?socket=/nonexistent/hdk.sock"}, "uri: 'qemu+unix:///system?socket=/nonexistent/hdk.sock': cannot connect"),
    ({"labels": {"bad name": "docker"}}, "labels: {'bad name': 'docker'} is not valid; expected label names made of letters"),
    ({"labels": {"role": 5}}, "labels.role: 5 is not valid; expected a string"),
]


@pytest.mark.parametrize("args,message", BAD, ids=[m.split(":")[0] for _a, m in BAD])
def test_bad_input_fails_naming_option_and_value(run_task, args, message):
    task = dict({"uri": "test:///default", "name": "bad-input", "state": "running", "memory": "256M"}, **args)
    result = run_task("hyperdock.platform.guest", task, expect_failure=True)
    assert message in result["msg"]
    # ansible-core 2.19 adds "exception: (traceback unavailable)" to every fail_json; a real one would show a traceback.
    assert "Traceback" not in result.get("module_stderr", "") + str(result.get("exception", ""))
    assert result["changed"] is False


# ---------------------------------------------------------------- labels on a guest that is off: persisted only

@pytest.fixture
def off_guest(conn) -> dict[str, Any]:
    """A small guest that is only ever defined, never started; undefined at teardown."""
    name = f"{NAME}-off"
    yield {"name": name, "state": "present", "hypervisor": "qemu", "vcpus": 1, "memory": "64M"}
    with contextlib.suppress(libvirt.libvirtError):
        conn.lookupByName(name).undefine()


def test_labels_on_a_guest_that_is_off(run_task, off_guest, conn):
    config_flag = libvirt.VIR_DOMAIN_AFFECT_CONFIG
    args = dict(off_guest, labels={"role": "docker"})
    predicted = run_task("hyperdock.platform.guest", args, check=True, diff=True)
    assert kinds(predicted) == ["create"] and predicted["actions"][0]["changes"]["labels"] == {"before": None, "after": {"role": "docker"}}
    result = run_task("hyperdock.platform.guest", args, diff=True)
    assert result["actions"] == predicted["actions"]
    dom = conn.lookupByName(off_guest["name"])
    assert labels_of(dom, config_flag) == {"role": "docker"}
    assert run_task("hyperdock.platform.guest", args)["changed"] is False

    changed = dict(off_guest, labels={"role": "web", "tier": "a b"})
    predicted = run_task("hyperdock.platform.guest", changed, check=True, diff=True)
    result = run_task("hyperdock.platform.guest", changed, diff=True)
    assert kinds(result) == kinds(predicted) == ["update"] and result["actions"] == predicted["actions"]
    assert result["applied_live"] == [] and result["pending_reboot"] == []
    assert result["diff"] == predicted["diff"] and result["diff"]["after"]["labels"] == {"role": "web", "tier": "a b"}
    assert labels_of(dom, config_flag) == {"role": "web", "tier": "a b"} and dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF
    assert run_task("hyperdock.platform.guest", changed)["changed"] is False

    cleared = dict(off_guest, labels={})
    assert run_task("hyperdock.platform.guest", cleared)["actions"][0]["changes"] == {
        "labels": {"before": {"role": "web", "tier": "a b"}, "after": {}}}
    assert labels_of(dom, config_flag) == {}
    assert run_task("hyperdock.platform.guest", cleared)["changed"] is False
