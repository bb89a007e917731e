"""`molecule test -s <name>` for every scenario in molecule/, as pytest cases.

Running Molecule through pytest keeps `make test` to one test run with one
summary line.  Each scenario's full output goes to tests/output/molecule/ and
its wall time is appended to tests/output/molecule/timings.tsv (recorded in
docs/testing.md).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "tests" / "output" / "molecule"
SCENARIOS = sorted(p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml"))
BIN = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario: str, dockerd: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    log = OUTPUT / f"{scenario}.log"
    env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}", ANSIBLE_FORCE_COLOR="0", PY_COLORS="0", NO_COLOR="1")
    started = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.run([str(BIN / "molecule"), "test", "-s", scenario], cwd=ROOT, env=env,
                              stdout=out, stderr=subprocess.STDOUT, check=False)
    seconds = time.monotonic() - started
    with (OUTPUT / "timings.tsv").open("a") as timings:
        timings.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')}\t{scenario}\t{seconds:.0f}\trc={proc.returncode}\n")
    if proc.returncode != 0:
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-60:])
        pytest.fail(f"molecule test -s {scenario} failed (rc={proc.returncode}, {seconds:.0f}s); full log {log}\n{tail}", pytrace=False)
