"""A realistic platform map input: what playbooks/map.yml collects from the info modules.

Two hypervisors, three guests, four Docker hosts (one on bare metal) and five
containers: two healthy, one unhealthy, one stopped, one without any limit.
The shapes are those of hypervisor_info, guest_info and docker_service_info.
Each call returns fresh copies, so a test may change them.
"""

from __future__ import annotations

from typing import Any

GIB = 1024 ** 3
MIB = 1024 ** 2


def _hypervisor(uri: str, hostname: str, accelerator: str, cpus: int, memory: int, reserved: int, guests: list[str],
                vcpus: int, used: int) -> dict[str, Any]:
    budget = memory - reserved
    return {
        "uri": uri, "hostname": hostname, "driver": "qemu", "libvirt_version": "9.0.0", "hypervisor_version": "7.2.22",
        "cpus": cpus, "memory": f"{memory // MIB}M", "memory_bytes": memory,
        "accelerator": accelerator, "accelerator_reason": "sample",
        "guests": {"defined": len(guests), "running": len(guests), "names": guests, "vcpus": vcpus,
                   "memory": f"{used // MIB}M", "memory_bytes": used},
        "budget": {"cpus": cpus, "memory": f"{budget // MIB}M", "memory_bytes": budget, "reserved_memory": f"{reserved // MIB}M",
                   "reserved_cpus": 0, "cpu_overcommit": 1.0, "memory_overcommit": 1.0},
        "free": {"cpus": cpus - vcpus, "memory": f"{(budget - used) // MIB}M", "memory_bytes": budget - used},
    }


def _guest(name: str, state: str, vcpus: int, memory: str, address: str | None, **extra: Any) -> dict[str, Any]:
    guest = {
        "name": name, "uuid": f"00000000-0000-4000-8000-{abs(hash(name)) % 10 ** 12:012d}", "state": state,
        "autostart": True, "persistent": True, "hypervisor": "qemu", "vcpus": vcpus, "max_vcpus": vcpus,
        "memory": memory, "max_memory": memory,
        "disks": [{"target": "vda", "pool": "default", "volume": f"{name}.qcow2", "bus": "virtio", "format": "qcow2"}],
        "interfaces": [{"network": "hyperdock", "mac": "52:54:00:00:00:01", "model": "virtio",
                        "addresses": [address] if address else []}],
    }
    if state == "running":
        guest["live"] = {"vcpus": vcpus, "memory": memory, "max_vcpus": vcpus, "max_memory": memory, "memory_target": memory}
    guest.update(extra)
    return guest


def _service(name: str, project: str, image: str, memory: str | None, cpus: str | None, pids: int | None,
             health: str | None = None, used: int | None = None, cpu_percent: float = 0.0, pids_used: int = 1,
             running: bool = True) -> dict[str, Any]:
    config: dict[str, Any] = {"image": image, "restart_policy": "unless-stopped"}
    if memory:
        config["memory"] = memory
    if cpus:
        config["cpus"] = cpus
    if pids:
        config["pids_limit"] = pids
    usage = None
    if running:
        usage = {"memory_used": f"{used // 1024}K" if used is not None else None, "memory_used_bytes": used,
                 "memory_limit": memory, "memory_percent": None, "cpu_percent": cpu_percent, "cpus_limit": cpus,
                 "pids_used": pids_used, "pids_limit": pids, "source": "engine"}
    return {
        "name": name, "container": f"{project}-{name}", "id": f"{abs(hash(name)) % 10 ** 12:012x}" * 5 + "abcd",
        "project": project, "state": "started" if running else "stopped", "status": "running" if running else "exited",
        "health": health if running else None, "started_at": "2024-05-01T10:00:00.000000000Z" if running else None,
        "uptime_seconds": 3600.5 if running else None, "restart_count": 0, "config": config, "usage": usage,
    }


def hypervisors() -> list[dict[str, Any]]:
    return [
        {"name": "lab-hv", "uri": "qemu:///system",
         "capacity": _hypervisor("qemu:///system", "hv1", "tcg", 4, 24 * GIB, 1536 * MIB, ["lab-app", "lab-edge"], 3, 2560 * MIB),
         "guests": [
             _guest("lab-app", "running", 2, "1536M", "192.168.122.20", labels={"role": "app", "tier": "front & back"},
                    usage={"cpu_time_seconds": 812.4, "memory_used": "900M", "memory_used_bytes": 900 * MIB,
                           "memory_rss": "1210M", "memory_rss_bytes": 1210 * MIB}),
             _guest("lab-edge", "running", 1, "1G", "192.168.122.21"),
         ]},
        {"name": "lab-hv2", "uri": "qemu+ssh://root@hv2/system",
         "capacity": _hypervisor("qemu+ssh://root@hv2/system", "hv2", "kvm", 8, 32 * GIB, 2 * GIB, ["lab-batch"], 2, 2 * GIB),
         "guests": [_guest("lab-batch", "running", 2, "2G", "192.168.122.30")]},
    ]


def docker_hosts() -> list[dict[str, Any]]:
    return [
        {"name": "lab-app", "hypervisor": "lab-hv", "guest": "lab-app",
         "budget": {"memory": "1536M", "cpus": "2", "pids": 1000},
         "capacity": {"name": "lab-app", "server_version": "20.10.24+dfsg1", "cpus": 2, "memory": "1530124K",
                      "memory_bytes": 1530124 * 1024, "containers_running": 2},
         "services": [
             _service("db", "shop", "hyperdock/lab-db:1", "512M", "1", 200, "healthy", 96 * MIB, 2.5, 9),
             _service("web", "shop", "hyperdock/lab-web:1", "128M", "0.25", 100, "healthy", 41 * MIB + 300 * 1024, 0.8, 4),
         ]},
        {"name": "lab-edge", "hypervisor": "lab-hv", "guest": "lab-edge",
         "capacity": {"name": "lab-edge", "server_version": "20.10.24+dfsg1", "cpus": 1, "memory": "1000M",
                      "memory_bytes": 1000 * MIB, "containers_running": 1},
         "services": [_service("proxy", "edge", "hyperdock/lab-proxy:1", "64M", "0.5", 50, "unhealthy", 60 * MIB, 12.0, 3)]},
        {"name": "lab-batch", "hypervisor": "lab-hv2", "guest": "lab-batch",
         "services": [_service("worker", "batch", "hyperdock/lab-worker:1", "1G", "1.5", 500, running=False)]},
        {"name": "lab-metal", "hypervisor": None, "guest": None,
         "capacity": {"name": "metal1", "server_version": "24.0.5", "cpus": 8, "memory": "16G", "memory_bytes": 16 * GIB,
                      "containers_running": 1},
         "services": [_service("cron", "ops", "hyperdock/busybox:latest", None, None, None, None, 3 * MIB, 0.1, 2)]},
    ]
