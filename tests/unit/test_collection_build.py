"""The collection as users install it: `ansible-galaxy collection build` must
give a tarball with the plugins, roles and playbooks, and no tests, caches,
venv or developer tooling."""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin"
FORBIDDEN = (".venv", ".cache", ".collections", ".ansible", ".pytest_cache", ".ruff_cache", ".git", "tests", "molecule",
             "benchmarks", "scripts", ".ci", "build", "Makefile", "requirements-dev.txt", "ansible.cfg")


def test_build_contains_the_collection_and_nothing_else(tmp_path):
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--force", "--output-path", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True, text=True)
    (tarball,) = tmp_path.glob("hyperdock-platform-*.tar.gz")
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    tops = {name.split("/", 1)[0] for name in names}
    assert {"MANIFEST.json", "FILES.json", "plugins", "roles", "meta", "README.md"} <= tops
    assert not tops & set(FORBIDDEN), sorted(tops & set(FORBIDDEN))
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert "plugins/module_utils/_units.py" in names
    assert "meta/runtime.yml" in names
