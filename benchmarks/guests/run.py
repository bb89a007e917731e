"""Benchmark: hyperdock.platform.guest against community.libvirt.virt with the same domain XML.

For N small guests on qemu:///system (32M, 1 vCPU, no disk: QEMU's firmware idles), in the same run, it
times four phases for each tool, each phase one playbook with a loop over the guests:

- deploy: ours, one `guest` task (state=running); theirs, `virt command=define xml=...` then `virt state=running`
- noop: the same playbook again (a second run must change nothing)
- limits: ours, new cpu_shares / memory_soft_limit / blkio_weight, applied live and persisted;
  theirs, `virt command=define` with the new XML (persisted only: virt cannot change a running guest)
- remove: ours, state=absent; theirs, `virt state=destroyed` then `virt command=undefine`

    .venv/bin/python benchmarks/guests/run.py [--count 20] [--out benchmarks/results/guests.json]
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

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / ".collections"))

from ansible_collections.hyperdock.platform.plugins.module_utils._libvirt_domain import render  # noqa: E402
from ansible_collections.hyperdock.platform.plugins.module_utils._libvirt_plan import parse_request, target_spec  # noqa: E402

PHASES = ("deploy", "noop", "limits", "remove")


def options(name: str, phase: str) -> dict[str, Any]:
    limits = {"cpu_shares": 2048, "memory_soft_limit": "96M", "blkio_weight": 600} if phase == "limits" else \
             {"cpu_shares": 1024, "memory_soft_limit": "64M", "blkio_weight": 300}
    return {"name": name, "vcpus": 1, "memory": "32M", "hypervisor": "qemu", **limits}


def xml_for(name: str, phase: str) -> str:
    return render(target_spec(parse_request(options(name, phase)), None, "qemu"))


def playbook(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]


def ours(names: list[str], phase: str) -> list[dict[str, Any]]:
    if phase == "remove":
        args: dict[str, Any] = {"name": "{{ item }}", "state": "absent"}
    else:
        args = dict(options("NAME", "limits" if phase == "limits" else "deploy"), name="{{ item }}", state="running")
    return playbook([{"name": "guest", "hyperdock.platform.guest": args, "loop": names}])


def theirs(names: list[str], phase: str) -> list[dict[str, Any]]:
    xml_phase = "limits" if phase == "limits" else "deploy"
    xmls = {n: xml_for(n, xml_phase) for n in names}
    define = {"name": "define", "community.libvirt.virt": {"command": "define", "xml": "{{ xmls[item] }}"}, "loop": names,
              "vars": {"xmls": xmls}}
    if phase == "remove":
        return playbook([{"name": "destroy", "community.libvirt.virt": {"name": "{{ item }}", "state": "destroyed"}, "loop": names},
                         {"name": "undefine", "community.libvirt.virt": {"name": "{{ item }}", "command": "undefine"}, "loop": names}])
    if phase == "limits":
        return playbook([define])
    return playbook([define, {"name": "start", "community.libvirt.virt": {"name": "{{ item }}", "state": "running"}, "loop": names}])


def run(play: list[dict[str, Any]], workdir: Path) -> tuple[float, int]:
    path = workdir / "play.json"
    path.write_text(json.dumps(play))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_PYTHON_INTERPRETER=str(BIN / "python"),
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    start = time.monotonic()
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(path)],
                          capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"playbook failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return elapsed, sum(1 for play in json.loads(proc.stdout)["plays"] for task in play["tasks"]
                        for r in task["hosts"]["localhost"].get("results", []) if r.get("changed"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "guests.json"))
    args = parser.parse_args()
    results: dict[str, Any] = {"count": args.count, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                               "tools": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for tool, build in (("hyperdock.platform.guest", ours), ("community.libvirt.virt", theirs)):
            prefix = "hdk-bench-" + ("o" if build is ours else "t")
            names = [f"{prefix}{i:02d}" for i in range(args.count)]
            phases: dict[str, Any] = {}
            for phase in PHASES:
                play = build(names, "deploy" if phase == "noop" else phase)
                seconds, changed = run(play, Path(tmp))
                phases[phase] = {"seconds": round(seconds, 2), "per_guest": round(seconds / args.count, 3), "changed": changed}
                print(f"{tool:28} {phase:7} {seconds:7.2f}s  {seconds / args.count:6.3f}s/guest  changed={changed}", flush=True)
            results["tools"][tool] = phases
    ours_t, theirs_t = results["tools"]["hyperdock.platform.guest"], results["tools"]["community.libvirt.virt"]
    results["ratio"] = {p: round(ours_t[p]["seconds"] / theirs_t[p]["seconds"], 2) for p in PHASES}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results["ratio"]))


if __name__ == "__main__":
    main()
