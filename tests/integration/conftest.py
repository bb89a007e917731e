"""Fixtures for integration tests against the real dockerd and libvirtd.

The daemons must answer (fixtures `dockerd` and `libvirtd`, in tests/conftest.py):
a test that needs one fails with a clear message when it does not (run `make setup`); nothing is skipped silently.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = str(Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin" / "ansible-playbook")


# The `dockerd` and `libvirtd` fixtures live in tests/conftest.py (Molecule's tests need them too).


class TaskRunner:
    """Run one module as a real Ansible task on localhost and return its result."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir

    def __call__(self, module: str, args: dict[str, Any], check: bool = False, diff: bool = False,
                 expect_failure: bool = False, **task_keys: Any) -> dict[str, Any]:
        task = {"name": "task under test", module: args, **task_keys}
        play = [{"hosts": "localhost", "gather_facts": False, "tasks": [task]}]
        path = self.workdir / "play.json"  # JSON is YAML: no quoting surprises
        path.write_text(json.dumps(play))
        cmd = [ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", str(path)]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
                   ANSIBLE_PYTHON_INTERPRETER=str(Path(ANSIBLE_PLAYBOOK).parent / "python"))
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
        try:
            output = json.loads(proc.stdout)
            result = output["plays"][0]["tasks"][0]["hosts"]["localhost"]
        except (ValueError, KeyError, IndexError):
            raise AssertionError(f"ansible-playbook gave no task result (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}") from None
        if bool(result.get("failed")) != expect_failure:
            raise AssertionError(f"{module} {'succeeded' if expect_failure else 'failed'} unexpectedly: {json.dumps(result, indent=2, default=str)}")
        return result


@pytest.fixture
def run_task(tmp_path: Path) -> TaskRunner:
    """`run_task(module, args, check=False, diff=False, expect_failure=False)`."""
    return TaskRunner(tmp_path)


@pytest.fixture(scope="session")
def scratch_dir() -> Iterator[Path]:
    """A directory libvirt's qemu user can read (not under /tmp's private namespaces), removed afterwards."""
    base = Path(os.environ.get("HYPERDOCK_TEST_DIR", "/var/lib/hyperdock-tests"))
    base.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="run-", dir=base))
    path.chmod(0o755)  # mkdtemp makes it 0700; libvirt's qemu user must reach files in it
    yield path
    shutil.rmtree(path, ignore_errors=True)
