"""Usage read from a container's cgroup files when the engine reports none."""

from __future__ import annotations

from ansible_collections.hyperdock.platform.plugins.module_utils import _docker_apply as apply

MIB = 1024 * 1024


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_cgroup_v1(tmp_path, monkeypatch):
    root = tmp_path / "cgroup"
    monkeypatch.setattr(apply, "CGROUP_ROOT", str(root))
    monkeypatch.setattr(apply, "CPU_SAMPLE_SECONDS", 0.01)
    write(tmp_path / "proc/42/cgroup", "12:pids:/docker/abc\n5:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n")
    write(root / "memory/docker/abc/memory.usage_in_bytes", str(10 * MIB))
    write(root / "memory/docker/abc/memory.stat", f"cache 1\ntotal_cache {2 * MIB}\n")
    write(root / "memory/docker/abc/memory.limit_in_bytes", str(64 * MIB))
    write(root / "cpuacct/docker/abc/cpuacct.usage", "1000")
    write(root / "pids/docker/abc/pids.current", "3")
    write(root / "pids/docker/abc/pids.max", "50")
    use = apply.cgroup_usage(42, proc=str(tmp_path / "proc"))
    assert use == {"memory_used": 8 * MIB, "memory_limit": 64 * MIB, "cpu_percent": 0.0, "pids_used": 3, "pids_limit": 50,
                   "source": "cgroup"}


def test_cgroup_v2(tmp_path, monkeypatch):
    root = tmp_path / "cgroup"
    monkeypatch.setattr(apply, "CGROUP_ROOT", str(root))
    monkeypatch.setattr(apply, "CPU_SAMPLE_SECONDS", 0.01)
    write(tmp_path / "proc/7/cgroup", "0::/system.slice/docker-abc.scope\n")
    scope = root / "system.slice/docker-abc.scope"
    write(scope / "memory.current", str(5 * MIB))
    write(scope / "memory.stat", f"anon 1\nfile {MIB}\n")
    write(scope / "memory.max", "max")
    write(scope / "cpu.stat", "usage_usec 10\n")
    write(scope / "pids.current", "2")
    write(scope / "pids.max", "max")
    use = apply.cgroup_usage(7, proc=str(tmp_path / "proc"))
    assert use["memory_used"] == 4 * MIB
    assert use["memory_limit"] is None and use["pids_limit"] is None
    assert use["pids_used"] == 2 and use["source"] == "cgroup"


def test_no_visible_process_gives_none(tmp_path):
    assert apply.cgroup_usage(99999, proc=str(tmp_path / "proc")) is None
