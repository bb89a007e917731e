"""docker_service, docker_services and docker_service_info against the real dockerd.

Every container, volume and network made here carries the name prefix
``hdtest-`` and (containers) the label ``hyperdock-test.run``; the fixtures
remove exactly those.  One container is shared across the steps of a
lifecycle test where each step depends on the previous one anyway.
"""

from __future__ import annotations

import datetime
import json
import re
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.hyperdock.platform.plugins.module_utils._units import parse_size

ROOT = Path(__file__).resolve().parents[2]
BUSYBOX = "hyperdock/busybox:latest"
OTHER = "hyperdock-test/busybox-other:latest"  # same content under another name: an image change
RUN = secrets.token_hex(3)
TEST_LABEL = {"hyperdock-test.run": RUN}
SLEEPER = {"image": BUSYBOX, "command": "sleep 3600", "init": True, "stop_timeout": 2, "labels": TEST_LABEL}


def docker(*args: str, check: bool = True) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
    return proc.stdout.strip()


def inspect(name: str) -> dict[str, Any] | None:
    found = json.loads(docker("inspect", "--type", "container", name, check=False) or "[]")
    return found[0] if found else None


def cgroup(name: str) -> dict[str, str]:
    """The limits as the kernel applies them (cgroup v1), read inside the container."""
    files = {"memory": "memory/memory.limit_in_bytes", "cpu_quota": "cpu/cpu.cfs_quota_us", "pids": "pids/pids.max",
             "cpu_shares": "cpu/cpu.shares"}
    return {k: docker("exec", name, "cat", f"/sys/fs/cgroup/{path}") for k, path in files.items()}


def no_traceback(result: dict[str, Any]) -> None:
    text = json.dumps(result)
    assert "Traceback" not in text and "module_stderr" not in result, text


@pytest.fixture(scope="session")
def busybox(dockerd: str) -> str:
    """hyperdock/busybox:latest, built locally (cached), and a second name for it."""
    proc = subprocess.run(["bash", str(ROOT / "scripts/images/build.sh"), "busybox"], capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not docker("images", "-q", BUSYBOX, check=False):
        pytest.fail(f"cannot build {BUSYBOX} with scripts/images/build.sh busybox (rc={proc.returncode}):\n{proc.stderr[-2000:]}",
                    pytrace=False)
    docker("tag", BUSYBOX, OTHER)
    yield BUSYBOX
    docker("rmi", OTHER, check=False)


@pytest.fixture(scope="module")
def cleanup(busybox: str) -> Iterator[None]:
    yield
    ids = docker("ps", "-aq", "--filter", f"label=hyperdock-test.run={RUN}", check=False).split()
    ids += docker("ps", "-aq", "--filter", "name=^hdtest-", check=False).split()
    if ids:
        docker("rm", "-f", *sorted(set(ids)), check=False)
    for kind in ("volume", "network"):
        names = [n for n in docker(kind, "ls", "--format", "{{.Name}}", check=False).split() if n.startswith("hdtest-")]
        if names:
            docker(kind, "rm", *names, check=False)


# --------------------------------------------------------------------------
# docker_service
# --------------------------------------------------------------------------

def test_service_lifecycle(run_task, cleanup):
    name = f"hdtest-svc-{RUN}"
    volume = f"hdtest-data-{RUN}"
    args = dict(SLEEPER, name=name, volumes=[f"{volume}:/data"], memory="64M", cpus="0.5", pids_limit=50)

    # Check mode predicts a create and changes nothing.
    predicted = run_task("hyperdock.platform.docker_service", args, check=True)
    assert predicted["changed"] and [a["action"] for a in predicted["actions"]] == ["create", "start"]
    assert inspect(name) is None

    created = run_task("hyperdock.platform.docker_service", args)
    assert created["changed"] and created["actions"] == predicted["actions"]
    first = inspect(name)
    assert first["State"]["Running"] and created["container"]["id"] == first["Id"]
    assert first["HostConfig"]["SecurityOpt"] == ["no-new-privileges"]
    assert cgroup(name) == {"memory": str(64 * 2 ** 20), "cpu_quota": "50000", "pids": "50", "cpu_shares": "1024"}

    # Idempotent, although the engine filled in MemorySwap, CpuShares, RestartPolicy...
    again = run_task("hyperdock.platform.docker_service", args)
    assert not again["changed"] and again["actions"] == []
    assert not run_task("hyperdock.platform.docker_service", args, check=True)["changed"]

    # Limits change live: check mode predicts exactly what the real run does, and nothing restarts.
    limits = dict(args, memory="128M", cpus="1.5", pids_limit=80, cpu_shares=512, restart_policy="on-failure:3")
    predicted = run_task("hyperdock.platform.docker_service", limits, check=True, diff=True)
    assert [a["action"] for a in predicted["actions"]] == ["update_live"]
    assert inspect(name)["HostConfig"]["NanoCpus"] == 500_000_000
    updated = run_task("hyperdock.platform.docker_service", limits, diff=True)
    assert updated["changed"] and updated["actions"] == predicted["actions"] and updated["recreated_because"] == []
    assert updated["diff"] == predicted["diff"]
    assert updated["diff"]["before"][name]["cpus"] == "0.5" and updated["diff"]["after"][name]["cpus"] == "1.5"
    live = inspect(name)
    assert live["Id"] == first["Id"] and live["State"]["StartedAt"] == first["State"]["StartedAt"]
    assert live["RestartCount"] == 0 and live["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert cgroup(name) == {"memory": str(128 * 2 ** 20), "cpu_quota": "150000", "pids": "80", "cpu_shares": "512"}
    assert not run_task("hyperdock.platform.docker_service", limits)["changed"]

    # Other changes recreate, say why, and keep the named volume's data.
    docker("exec", name, "sh", "-c", "echo kept > /data/file")
    recreated = run_task("hyperdock.platform.docker_service", dict(limits, env={"MODE": "b"}))
    assert recreated["changed"] and recreated["recreated_because"] == ["env"]
    after = inspect(name)
    assert after["Id"] != first["Id"] and docker("exec", name, "cat", "/data/file") == "kept"
    assert cgroup(name)["cpu_quota"] == "150000"
    image = run_task("hyperdock.platform.docker_service", dict(limits, env={"MODE": "b"}, image=OTHER))
    assert image["recreated_because"] == ["image"] and inspect(name)["Config"]["Image"] == OTHER

    # Stopped and started again without a recreate.
    stopped = run_task("hyperdock.platform.docker_service", dict(limits, env={"MODE": "b"}, image=OTHER, state="stopped"))
    assert [a["action"] for a in stopped["actions"]] == ["stop"] and not inspect(name)["State"]["Running"]

    # Absent removes the container, never the named volume unless asked.
    gone = run_task("hyperdock.platform.docker_service", {"name": name, "state": "absent"})
    assert gone["changed"] and inspect(name) is None and docker("volume", "ls", "-q", "--filter", f"name=^{volume}$") == volume
    assert not run_task("hyperdock.platform.docker_service", {"name": name, "state": "absent"})["changed"]
    run_task("hyperdock.platform.docker_service", dict(args, state="present"))
    run_task("hyperdock.platform.docker_service", {"name": name, "state": "absent", "remove_volumes": True})
    assert docker("volume", "ls", "-q", "--filter", f"name=^{volume}$") == ""


@pytest.mark.parametrize("options, needles", [
    ({"memory": "12Q"}, ["memory", "'12Q'"]),
    ({"cpus": "-1"}, ["cpus", "'-1'"]),
    ({"cpuset_cpus": "0-63"}, ["cpuset_cpus", "'0-63'", "host's CPUs"]),
    ({"memory": "256M", "memory_swap": "128M"}, ["memory_swap", "'128M'", "at least memory (256M)"]),
    ({"image": "hyperdock-test/not-there:1"}, ["image", "hyperdock-test/not-there:1", "cannot be pulled"]),
    ({"docker_host": "unix:///nonexistent/docker.sock"}, ["docker_host", "/nonexistent/docker.sock", "not reachable"]),
])
def test_service_bad_input_fails_cleanly(run_task, cleanup, options, needles):
    name = f"hdtest-bad-{RUN}"
    result = run_task("hyperdock.platform.docker_service", dict(SLEEPER, name=name, **options), expect_failure=True)
    no_traceback(result)
    for needle in needles:
        assert needle in result["msg"]
    assert inspect(name) is None


# --------------------------------------------------------------------------
# docker_services
# --------------------------------------------------------------------------

def project_args(project: str, **overrides: Any) -> dict[str, Any]:
    net, vol = f"hdtest-net-{RUN}", f"hdtest-vol-{RUN}"
    limits = {"memory": "32M", "cpus": "0.25", "pids_limit": 20}
    services = {
        "db": dict(SLEEPER, networks=[{"name": net, "aliases": ["database"]}], volumes=[f"{vol}:/var/lib/db"], **limits),
        "web": dict(SLEEPER, depends_on=["db"], networks=[net], **limits),
        "worker": dict(SLEEPER, depends_on=["db"], **limits),
    }
    # Project scope: the sums below must not depend on what else runs on this host.
    args = {"project": project, "networks": [net], "volumes": [vol], "services": services, "require_limits": True,
            "budget_scope": "project"}
    args.update(overrides)
    return args


def test_services_project(run_task, cleanup):
    project = f"hdtest-p{RUN}"
    args = project_args(project)

    predicted = run_task("hyperdock.platform.docker_services", args, check=True)
    assert predicted["changed"] and inspect(f"{project}-db") is None
    deployed = run_task("hyperdock.platform.docker_services", args)
    assert deployed["actions"] == predicted["actions"]
    kinds = [(a["action"], a["target"]) for a in deployed["actions"]]
    assert kinds.index(("start", "db")) < kinds.index(("create", "web"))  # depends_on
    assert ("create", f"network:hdtest-net-{RUN}") in kinds
    db = inspect(f"{project}-db")
    assert db["Config"]["Labels"]["io.hyperdock.project"] == project
    assert "database" in db["NetworkSettings"]["Networks"][f"hdtest-net-{RUN}"]["Aliases"]
    assert deployed["budget"]["memory"]["used"] == "96M"

    again = run_task("hyperdock.platform.docker_services", args)
    assert not again["changed"] and again["actions"] == []

    # A limit change on every service: live, predicted exactly, no restart.
    before = {s: inspect(f"{project}-{s}") for s in ("db", "web", "worker")}
    changed = project_args(project)
    for spec in changed["services"].values():
        spec.update(memory="48M", cpus="0.5")
    predicted = run_task("hyperdock.platform.docker_services", changed, check=True, diff=True)
    updated = run_task("hyperdock.platform.docker_services", changed, diff=True)
    assert updated["actions"] == predicted["actions"] and updated["diff"] == predicted["diff"]
    assert {a["action"] for a in updated["actions"]} == {"update_live"} and len(updated["actions"]) == 3
    for service, old in before.items():
        now = inspect(f"{project}-{service}")
        assert (now["Id"], now["State"]["StartedAt"]) == (old["Id"], old["State"]["StartedAt"])
        assert now["HostConfig"]["Memory"] == 48 * 2 ** 20 and now["HostConfig"]["NanoCpus"] == 500_000_000
    assert cgroup(f"{project}-web")["cpu_quota"] == "50000"

    # Usage and configuration in the module's vocabulary.
    info = run_task("hyperdock.platform.docker_service_info", {"project": project})
    entries = {e["name"]: e for e in info["services"]}
    assert set(entries) == {"db", "web", "worker"}
    assert entries["web"]["config"]["memory"] == "48M" and entries["web"]["state"] == "started"
    assert entries["web"]["usage"]["memory_limit"] == "48M" and entries["web"]["usage"]["pids_limit"] == 20
    # Real numbers, from the engine's stats or, where it reports none, the cgroup files.
    web_usage = entries["web"]["usage"]
    assert web_usage["source"] in ("engine", "cgroup")
    assert 0 < web_usage["memory_used_bytes"] <= 48 * 2**20
    assert 1 <= web_usage["pids_used"] <= 20
    assert web_usage["cpu_percent"] >= 0
    assert entries["web"]["uptime_seconds"] >= 0

    # Prune removes only this project's undeclared containers, found by label.
    docker("run", "-d", "--name", f"hdtest-{project}-stranger", "--label", f"hyperdock-test.run={RUN}", BUSYBOX, "sleep", "3600")
    del changed["services"]["worker"]
    changed["prune"] = True
    pruned = run_task("hyperdock.platform.docker_services", changed)
    assert [(a["action"], a["target"]) for a in pruned["actions"]] == [("delete", "worker")]
    assert inspect(f"{project}-worker") is None and inspect(f"hdtest-{project}-stranger") is not None
    assert inspect(f"{project}-db")["Id"] == before["db"]["Id"]

    # Removal keeps the data volume.
    for spec in changed["services"].values():
        spec["state"] = "absent"
    removed = run_task("hyperdock.platform.docker_services", changed)
    assert removed["changed"] and inspect(f"{project}-db") is None
    assert docker("volume", "ls", "-q", "--filter", f"name=^hdtest-vol-{RUN}$") == f"hdtest-vol-{RUN}"


COMPOSE = """
services:
  api:
    image: hyperdock/busybox:latest
    command: ["sleep", "3600"]
    environment: {MODE: compose}
    depends_on: [cache]
    restart: unless-stopped
    mem_limit: 32m
    pids_limit: 16
    deploy:
      resources:
        limits: {cpus: "0.25"}
        reservations: {memory: 16m}
  cache:
    image: hyperdock/busybox:latest
    command: sleep 3600
    volumes: ["hdtest-cache-@RUN@:/cache"]
    deploy:
      resources:
        limits: {cpus: "0.25", memory: 32m, pids: 16}
volumes:
  hdtest-cache-@RUN@: {}
""".replace("@RUN@", RUN)


def test_services_compose(run_task, cleanup):
    project = f"hdtest-c{RUN}"
    args = {"project": project, "compose": COMPOSE}
    deployed = run_task("hyperdock.platform.docker_services", args)
    assert deployed["changed"]
    api = inspect(f"{project}-api")
    assert api["HostConfig"]["Memory"] == 32 * 2 ** 20 and api["HostConfig"]["MemoryReservation"] == 16 * 2 ** 20
    assert api["HostConfig"]["NanoCpus"] == 250_000_000 and api["HostConfig"]["PidsLimit"] == 16
    assert "MODE=compose" in api["Config"]["Env"] and api["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert not run_task("hyperdock.platform.docker_services", args)["changed"]
    bad = run_task("hyperdock.platform.docker_services", {"project": project, "compose": COMPOSE.replace("    pids_limit: 16\n", "    privileged: true\n")},
                   expect_failure=True)
    assert "services.api.privileged is outside the supported subset" in bad["msg"]
    no_traceback(bad)


@pytest.mark.parametrize("change, needles", [
    ({"budget": {"memory": "64M"}}, ["service budget of Docker host ", "budget: memory 64M is exceeded", "sum to 96M", "db 32M", "web 32M", "worker 32M"]),
    ({"overcommit": 0.00000001}, ["budget: memory", "is exceeded"]),
    ({"services.web.memory": None}, ["service web: memory not set; require_limits"]),
    ({"services.db.depends_on": ["worker"]}, ["depends_on", "db -> worker -> db", "cycle"]),
    ({"services.web.ports": ["18080:80"], "services.worker.ports": ["18080:81"]}, ["service worker: ports: host port 18080/tcp", "service web"]),
    ({"services.db.memory": "12Q"}, ["service db: memory: '12Q'"]),
])
def test_services_refuse_before_any_change(run_task, cleanup, change, needles):
    project = f"hdtest-r{RUN}"
    args = project_args(project)
    for key, value in change.items():
        if key.startswith("services."):
            service, option = key.split(".")[1:]
            args["services"][service][option] = value
        else:
            args[key] = value
    result = run_task("hyperdock.platform.docker_services", args, expect_failure=True)
    no_traceback(result)
    for needle in needles:
        assert needle in result["msg"]
    assert docker("ps", "-aq", "--filter", f"label=io.hyperdock.project={project}") == ""


def test_host_budget_counts_other_projects_containers(run_task, cleanup):
    project = f"hdtest-h{RUN}"
    stranger = f"hdtest-{project}-other"
    docker("run", "-d", "--name", stranger, "--memory", "64m", "--label", f"hyperdock-test.run={RUN}", BUSYBOX, "sleep", "3600")
    args = project_args(project, budget={"memory": "128M"})
    # The project alone (96M) fits 128M...
    fits = run_task("hyperdock.platform.docker_services", args, check=True)
    assert fits["budget"]["memory"]["used"] == "96M"
    # ...but not next to the other container on the same host, which the error names.
    refused = run_task("hyperdock.platform.docker_services", dict(args, budget_scope="host"), expect_failure=True)
    no_traceback(refused)
    assert "budget: memory 128M is exceeded" in refused["msg"]
    assert f"other:{stranger} 64M" in refused["msg"]
    assert docker("ps", "-aq", "--filter", f"label=io.hyperdock.project={project}") == ""


def test_info_reports_the_engine_host(run_task, dockerd):
    """`host` comes from the same /info the docker CLI shows, in the shared size vocabulary."""
    info = json.loads(docker("info", "--format", "{{json .}}"))
    result = run_task("hyperdock.platform.docker_service_info", {"name": [f"hdtest-absent-{RUN}"], "usage": False})
    host = result["host"]
    assert result["missing"] == [f"hdtest-absent-{RUN}"] and result["services"] == []
    assert (host["name"], host["server_version"], host["cpus"]) == (info["Name"], info["ServerVersion"], info["NCPU"])
    assert host["memory_bytes"] == info["MemTotal"] > 0
    assert parse_size(host["memory"], "memory") == info["MemTotal"]
    assert isinstance(host["containers_running"], int) and host["containers_running"] >= 0


# --------------------------------------------------------------------------
# docker_services wait: ready services, depends_on waves, and a clear failure
# --------------------------------------------------------------------------

def _when(stamp: str) -> datetime.datetime:
    """Docker's RFC 3339 times, with nanoseconds cut to what datetime holds."""
    match = re.match(r"(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", stamp)
    assert match, stamp
    base, fraction, zone = match.groups()
    return datetime.datetime.fromisoformat(f"{base}.{(fraction or '0')[:6]:0<6}{'+00:00' if zone == 'Z' else zone}")


def _waiting_project(project: str, db_check: str) -> dict[str, Any]:
    limits = {"memory": "16M", "cpus": "0.1", "pids_limit": 8}
    return {"project": project, "wait": True, "wait_timeout": 60, "services": {
        # db turns healthy after its first check; web starts only after that.
        "db": dict(SLEEPER, **limits, healthcheck={"test": db_check, "interval": "1s", "timeout": "1s", "retries": 2}),
        "web": dict(SLEEPER, **limits, depends_on=["db"]),
    }}


def test_services_wait_until_healthy_in_depends_on_order(run_task, cleanup):
    project = f"hdtest-w{RUN}"
    result = run_task("hyperdock.platform.docker_services", _waiting_project(project, "true"))
    assert result["changed"] is True
    db, web = inspect(f"{project}-db"), inspect(f"{project}-web")
    assert db["State"]["Health"]["Status"] == "healthy"
    # web was created only once db was healthy: after db's first passing check.
    first_pass = min(_when(entry["End"]) for entry in db["State"]["Health"]["Log"] if entry["ExitCode"] == 0)
    assert _when(web["Created"]) >= first_pass
    again = run_task("hyperdock.platform.docker_services", _waiting_project(project, "true"))
    assert again["changed"] is False


def test_services_wait_names_the_unhealthy_service(run_task, cleanup):
    project = f"hdtest-u{RUN}"
    args = _waiting_project(project, "echo db-not-ready-yet; exit 1")
    args["wait_timeout"] = 8
    result = run_task("hyperdock.platform.docker_services", args, expect_failure=True)
    no_traceback(result)
    assert "not ready after wait_timeout=8s" in result["msg"]
    assert "service db is running (health " in result["msg"] and "db-not-ready-yet" in result["msg"]
    # The wave that depends on db was never started.
    assert inspect(f"{project}-web") is None
