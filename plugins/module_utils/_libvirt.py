# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place that talks to libvirt: connection, errors, hypervisor choice.

Modules never ``import libvirt``; they call :func:`connect`, which fails the
module with ansible's standard "libvirt-python is required" message when the
binding is missing, and names the ``uri`` option when the daemon does not
answer.  Every :class:`libvirt.libvirtError` is turned into a
:class:`BackendError` that names the option it came from.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ansible_collections.hyperdock.platform.plugins.module_utils._units import LimitError

LIBVIRT_IMPORT_ERROR: str | None
try:
    import libvirt  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the target host
    libvirt = None
    LIBVIRT_IMPORT_ERROR = traceback.format_exc()
else:
    LIBVIRT_IMPORT_ERROR = None
    # libvirt prints every error on stderr by default; we report them ourselves.
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

DEFAULT_URI = "qemu:///system"

# The ioctl numbers of <linux/kvm.h>: _IO(0xAE, 0x00) and _IO(0xAE, 0x01).
KVM_GET_API_VERSION = 0xAE00
KVM_CREATE_VM = 0xAE01
KVM_API_VERSION = 12
# How long the firmware may take to finish POST in one probe.  A working KVM
# needs well under a second, and so does TCG (about 0.1 s); a nested KVM that
# hangs costs a new guest only this much, once per boot.
KVM_PROBE_SECONDS = 5.0
# KVM must finish POST no slower than TCG does on the same firmware, give or
# take QEMU's start-up: nested KVM can run every vCPU instruction through the
# outer hypervisor and take 40 times as long as emulation (measured: 2.7 s
# against 0.07 s) and then hang in the guest's kernel.
KVM_SLOWER_THAN_TCG = 2.0
KVM_STARTUP_SLACK = 0.25
# Bumped when the probe changes, so that an answer cached by an older probe
# this boot is not trusted.
KVM_PROBE_VERSION = 2
# A new guest should not pay for the probe every time; /run is emptied at each boot.
KVM_PROBE_CACHE = "/run/hyperdock-kvm-probe.json"


class BackendError(Exception):
    """A failure that names the option (and value) it is about; ``str()`` is the user message."""

    def __init__(self, option: str, value: object, message: str) -> None:
        self.option = option
        self.value = value
        super().__init__(f"{option}: {value!r}: {message}" if value is not None else f"{option}: {message}")


def require_libvirt(module: Any) -> None:
    """Fail ``module`` with ansible's standard message when libvirt-python is missing."""
    if libvirt is None:
        from ansible.module_utils.basic import missing_required_lib

        module.fail_json(msg=missing_required_lib("libvirt-python"), exception=LIBVIRT_IMPORT_ERROR)


def error_text(exc: BaseException) -> str:
    """The message of a libvirt error without libvirt's repeated prefixes."""
    getter = getattr(exc, "get_error_message", None)
    return (getter() if callable(getter) else None) or str(exc)


def connect(uri: str | None) -> Any:
    """Open ``uri`` (read/write); a daemon that does not answer fails naming ``uri``."""
    uri = uri or DEFAULT_URI
    try:
        return libvirt.open(uri)
    except libvirt.libvirtError as exc:
        raise BackendError("uri", uri, f"cannot connect to libvirt: {error_text(exc)}") from None


def open_for(module: Any) -> Any:
    """The connection to ``module.params['uri']``, for a module runner.

    Fails the module with ansible's "libvirt-python is required" message when
    the binding is missing, and with a message naming ``uri`` when the daemon
    does not answer.  ``fail_json`` exits, so a runner can use the result as is.
    """
    require_libvirt(module)
    try:
        return connect(module.params["uri"])
    except BackendError as exc:
        module.fail_json(msg=str(exc))
        raise  # not reached: fail_json exits


@contextlib.contextmanager
def reporting(module: Any, conn: Any, option: str, value: object) -> Iterator[None]:
    """Run a runner's read, plan and apply on ``conn``.

    A bad value (LimitError, BackendError) fails the module with its own
    message, any other libvirt error fails it naming ``option``; the
    connection is closed either way.
    """
    try:
        yield
    except (LimitError, BackendError) as exc:
        module.fail_json(msg=str(exc))
    except libvirt.libvirtError as exc:
        module.fail_json(msg=str(BackendError(option, value, error_text(exc))))
    finally:
        conn.close()


def exit_with_plan(module: Any, plan: Any, **extra: Any) -> None:
    """Exit with a plan's result: changed, its actions, ``extra``, and the diff when asked for."""
    result = {"changed": plan.changed, "actions": plan.as_list(), **extra}
    if module._diff:
        result["diff"] = plan.diff()
    module.exit_json(**result)


def is_libvirt_error(exc: BaseException) -> bool:
    return libvirt is not None and isinstance(exc, libvirt.libvirtError)


def no_such(exc: BaseException) -> bool:
    """Whether a libvirt error means "this object does not exist"."""
    if not is_libvirt_error(exc):
        return False
    code = exc.get_error_code()
    return code in (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_NO_NETWORK, libvirt.VIR_ERR_NO_STORAGE_POOL,
                    libvirt.VIR_ERR_NO_STORAGE_VOL)


def driver_of(uri: str) -> str:
    """``qemu``, ``xen``, ``test``... from a URI such as ``qemu+ssh://host/system``."""
    return uri.split(":", 1)[0].split("+", 1)[0].lower()


@dataclass
class HypervisorChoice:
    """The domain type chosen for a guest, and why (reported in the result)."""

    domain_type: str
    reason: str


def kvm_usable_cached(cache: str = KVM_PROBE_CACHE) -> tuple[bool, str]:
    """:func:`kvm_usable`, probed once per host boot: the answer is kept in ``/run`` with the boot id."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as handle:
            boot_id = handle.read().strip()
    except OSError:
        return kvm_usable()
    try:
        with open(cache) as handle:
            cached = json.load(handle)
        if cached.get("boot_id") == boot_id and cached.get("probe") == KVM_PROBE_VERSION:
            return bool(cached["ok"]), str(cached["reason"]) + " (probed once this boot)"
    except (OSError, ValueError, KeyError):
        pass
    ok, reason = kvm_usable()
    with contextlib.suppress(OSError):
        with open(cache + ".tmp", "w") as handle:
            json.dump({"boot_id": boot_id, "probe": KVM_PROBE_VERSION, "ok": ok, "reason": reason}, handle)
        os.replace(cache + ".tmp", cache)
    return ok, reason


def kvm_usable(probe_seconds: float = KVM_PROBE_SECONDS, qemu: str | None = None,
               boot: bool = True) -> tuple[bool, str]:
    """Whether ``/dev/kvm`` really runs guests on this host, and why (not).

    Opening the device and asking its API version is not enough: nested KVM
    can answer every ioctl and then refuse the guest's CPU, hang, or crawl.
    So unless ``boot`` is false the last check boots QEMU's own firmware
    (SeaBIOS, debug console on port 0x402) with the CPU a KVM guest gets
    (``host``, as ``host-passthrough``), first under TCG and then under KVM,
    and requires KVM to finish POST, and no slower than TCG did.
    """
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        return False, f"/dev/kvm cannot be opened ({os.strerror(exc.errno or errno.ENOENT)})"
    try:
        version = fcntl.ioctl(fd, KVM_GET_API_VERSION)
        if version != KVM_API_VERSION:
            return False, f"/dev/kvm answers API version {version}, not {KVM_API_VERSION}"
        vm_fd = fcntl.ioctl(fd, KVM_CREATE_VM, 0)
        os.close(vm_fd)
    except OSError as exc:
        return False, f"/dev/kvm refuses to create a VM ({exc})"
    finally:
        os.close(fd)
    answers = "/dev/kvm answers KVM_GET_API_VERSION and KVM_CREATE_VM"
    if not boot:
        return True, answers + " (no guest booted to check further: probe_kvm=false)"
    qemu = qemu or shutil.which("qemu-system-x86_64") or "/usr/bin/qemu-system-x86_64"
    if not os.path.exists(qemu):
        return True, answers + " (no QEMU found to probe further)"
    return _compare_firmware_boots(qemu, probe_seconds)


@dataclass
class FirmwareBoot:
    """One boot of QEMU's firmware: whether it finished POST, in how long, and its last words."""

    finished: bool
    seconds: float
    output: str


def boot_firmware(qemu: str, accel: list[str], seconds: float) -> FirmwareBoot:
    """Boot SeaBIOS with no disk and wait (at most ``seconds``) for it to finish POST."""
    cmd = [qemu, *accel, "-machine", "pc", "-nodefaults", "-display", "none", "-no-reboot",
           "-chardev", "stdio,id=dbg", "-device", "isa-debugcon,iobase=0x402,chardev=dbg"]
    started = time.monotonic()
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except OSError as exc:
        return FirmwareBoot(False, 0.0, f"cannot run {qemu} ({exc})")
    deadline = started + seconds
    seen = b""
    try:
        while time.monotonic() < deadline:
            ready, _w, _x = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            seen += chunk
            if b"No bootable device" in seen or b"Booting from" in seen:
                return FirmwareBoot(True, time.monotonic() - started, "")
    finally:
        proc.kill()
        proc.wait()
    return FirmwareBoot(False, time.monotonic() - started, seen.decode(errors="replace").strip()[-200:])


def kvm_verdict(kvm: FirmwareBoot, tcg: FirmwareBoot, seconds: float) -> tuple[bool, str]:
    """Whether a KVM firmware boot, next to a TCG one, shows a usable KVM (pure: unit-tested)."""
    if not kvm.finished:
        if "SeaBIOS" in kvm.output or not kvm.output:
            return False, (f"/dev/kvm opens, but QEMU firmware did not finish POST under KVM within {seconds:g}s "
                           "(nested KVM hangs or crawls)")
        return False, "/dev/kvm opens, but QEMU could not start a KVM guest with the host's CPU: " + kvm.output
    if not tcg.finished:
        return True, f"/dev/kvm works: QEMU firmware finished POST under KVM in {kvm.seconds:.2f}s"
    limit = tcg.seconds * KVM_SLOWER_THAN_TCG + KVM_STARTUP_SLACK
    if kvm.seconds > limit:
        return False, (f"/dev/kvm opens, but QEMU firmware took {kvm.seconds:.2f}s to finish POST under KVM and "
                       f"{tcg.seconds:.2f}s under TCG: nested KVM crawls")
    return True, (f"/dev/kvm works: QEMU firmware finished POST in {kvm.seconds:.2f}s under KVM "
                  f"({tcg.seconds:.2f}s under TCG)")


def _compare_firmware_boots(qemu: str, seconds: float) -> tuple[bool, str]:
    # TCG first: it loads QEMU and the firmware into the page cache, so KVM is not timed on a cold start.
    tcg = boot_firmware(qemu, ["-accel", "tcg"], seconds)
    kvm = boot_firmware(qemu, ["-accel", "kvm", "-cpu", "host"], seconds)
    return kvm_verdict(kvm, tcg, seconds)


def choose_hypervisor(conn: Any, requested: str, kvm_probe: Any = None) -> HypervisorChoice:
    """The libvirt domain type for ``hypervisor`` (auto, kvm, qemu or xen) on ``conn``."""
    uri = conn.getURI()
    driver = driver_of(uri)
    if requested == "xen":
        return HypervisorChoice("xen", "hypervisor=xen was requested")
    if requested in ("kvm", "qemu"):
        return HypervisorChoice(requested, f"hypervisor={requested} was requested")
    if driver in ("xen", "libxl"):
        return HypervisorChoice("xen", f"the connection {uri} is the libxl (Xen) driver")
    if driver == "test":
        return HypervisorChoice("test", f"the connection {uri} is libvirt's test driver")
    caps = conn.getCapabilities()
    if "<domain type='kvm'" not in caps and '<domain type="kvm"' not in caps:
        return HypervisorChoice("qemu", "libvirt reports no kvm domain type on this host; using QEMU TCG")
    ok, why = (kvm_probe or kvm_usable_cached)()
    if ok:
        return HypervisorChoice("kvm", why)
    return HypervisorChoice("qemu", why + "; using QEMU TCG")
