"""Benchmark: docker_services (one task) against a loop of community.docker.docker_container.

For N services with limits on the local dockerd, in the same run, it times
four phases for each tool: the first deploy, a no-op re-run, a change of
``cpus`` and ``memory`` on every service, and removal.  It counts restarts
(a container whose Id or StartedAt changed) and times the API floor: the raw
Docker API calls the work needs, made directly with the SDK, one after the
other.

    .venv/bin/python benchmarks/services/run.py [--count 100] [--out benchmarks/results/services.json]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import docker

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
IMAGE = "hyperdock/busybox:latest"
PHASES = ("deploy", "noop", "limits", "remove")


def playbook(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]


def ours(prefix: str, count: int, phase: str) -> list[dict[str, Any]]:
    limits = {"memory": "48M", "cpus": "0.5"} if phase == "limits" else {"memory": "32M", "cpus": "0.25"}
    state = "absent" if phase == "remove" else "started"
    services = {f"s{i:03d}": {"image": IMAGE, "command": "sleep 86400", "init": True, "pids_limit": 20, "state": state,
                              "stop_timeout": 2, **limits} for i in range(count)}
    return playbook([{"name": "docker_services", "hyperdock.platform.docker_services": {"project": prefix, "services": services, "overcommit": 100}}])


def theirs(prefix: str, count: int, phase: str) -> list[dict[str, Any]]:
    limits = {"memory": "48M", "cpus": 0.5} if phase == "limits" else {"memory": "32M", "cpus": 0.25}
    args: dict[str, Any] = {"name": f"{prefix}-{{{{ item }}}}", "state": "absent" if phase == "remove" else "started"}
    if phase != "remove":
        args.update(image=IMAGE, command="sleep 86400", init=True, pids_limit=20, stop_timeout=2, **limits)
    return playbook([{"name": "docker_container loop", "community.docker.docker_container": args,
                      "loop": [f"s{i:03d}" for i in range(count)]}])


def _seconds(stamp: str) -> float:
    return datetime.datetime.fromisoformat(stamp.rstrip("Z")).timestamp()


def run_play(play: list[dict[str, Any]]) -> tuple[float, float]:
    """``(wall seconds of ansible-playbook, seconds of the task itself)``."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(play, handle)
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    start = time.monotonic()
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", handle.name],
                          capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    elapsed = time.monotonic() - start
    os.unlink(handle.name)
    if proc.returncode != 0:
        raise SystemExit(f"playbook failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    duration = json.loads(proc.stdout)["plays"][0]["tasks"][0]["task"]["duration"]
    return elapsed, _seconds(duration["end"]) - _seconds(duration["start"])


def snapshot(client: Any, prefix: str) -> dict[str, tuple[str, str]]:
    result = {}
    for item in client.api.containers(all=True, filters={"name": f"^{prefix}-"}):
        attrs = client.api.inspect_container(item["Id"])
        result[attrs["Name"].lstrip("/")] = (attrs["Id"], attrs["State"]["StartedAt"])
    return result


def restarts(before: dict[str, tuple[str, str]], after: dict[str, tuple[str, str]]) -> int:
    return sum(1 for name, ident in before.items() if name in after and after[name] != ident)


def floor(client: Any, prefix: str, count: int) -> dict[str, float]:
    """The raw API calls each phase needs, made one after the other with the SDK."""
    api = client.api
    names = [f"{prefix}-s{i:03d}" for i in range(count)]
    times = {}
    start = time.monotonic()
    ids = []
    for name in names:  # deploy: create + start
        host = api.create_host_config(mem_limit=32 * 2 ** 20, nano_cpus=250_000_000, pids_limit=20, init=True)
        ids.append(api.create_container(IMAGE, command=["sleep", "86400"], name=name, host_config=host)["Id"])
        api.start(ids[-1])
    times["deploy"] = time.monotonic() - start
    start = time.monotonic()
    api.containers(all=True)  # no-op: list + inspect each
    for cid in ids:
        api.inspect_container(cid)
    times["noop"] = time.monotonic() - start
    start = time.monotonic()
    for cid in ids:  # limits: one update each
        res = api._post_json(api._url("/containers/{0}/update", cid),
                             data={"Memory": 48 * 2 ** 20, "MemorySwap": 96 * 2 ** 20, "NanoCpus": 500_000_000})
        api._raise_for_status(res)
    times["limits"] = time.monotonic() - start
    start = time.monotonic()
    for cid in ids:  # remove: one forced remove each
        api.remove_container(cid, force=True)
    times["remove"] = time.monotonic() - start
    return times


def bench(client: Any, tool: str, prefix: str, count: int) -> dict[str, Any]:
    make = ours if tool == "docker_services" else theirs
    result: dict[str, Any] = {}
    for phase in PHASES:
        before = snapshot(client, prefix)
        seconds, task = run_play(make(prefix, count, phase))
        after = snapshot(client, prefix)
        result[phase] = {"seconds": round(seconds, 2), "task_seconds": round(task, 2), "restarts": restarts(before, after)}
        print(f"{tool:16} {phase:7} {seconds:7.2f}s task {task:7.2f}s restarts={result[phase]['restarts']}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--tools", default="docker_services,docker_container")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "services.json"))
    args = parser.parse_args()
    client = docker.from_env(timeout=300)
    subprocess.run(["bash", str(ROOT / "scripts/images/build.sh"), "busybox"], check=True, capture_output=True)
    tag = str(os.getpid())
    results = {
        "count": args.count,
        "floor": {k: round(v, 2) for k, v in floor(client, f"hdbench-floor{tag}", args.count).items()},
    }
    for tool, short in (("docker_services", "ours"), ("docker_container", "cd")):
        if tool in args.tools.split(","):
            results[tool] = bench(client, tool, f"hdbench-{short}{tag}", args.count)
    for phase in PHASES if "docker_container" in results and "docker_services" in results else ():
        ours_s = results["docker_services"][phase]["seconds"]
        results.setdefault("ratios", {})[phase] = {
            "speedup": round(results["docker_container"][phase]["seconds"] / ours_s, 1),
            "task_speedup": round(results["docker_container"][phase]["task_seconds"] / results["docker_services"][phase]["task_seconds"], 1),
            "task_vs_floor": round(results["docker_services"][phase]["task_seconds"] / max(results["floor"][phase], 0.01), 1),
        }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
