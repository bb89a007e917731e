"""Offline stand-in for the get-pip.py that ansible-test downloads.

ansible-test bootstraps pip in each sanity venv with a get-pip.py script from a
host this machine cannot reach; it uses a copy cached at
~/.ansible/test/cache/get_pip_<version>.py when one exists.  This script does
the same job with the pip wheel that ships inside Python's ensurepip, and
installs the requested pip (and setuptools/wheel unless told not to) from the
package index as usual.  scripts/sanity.sh puts it in that cache.
"""

import glob
import os
import sys

import ensurepip

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
if "--no-setuptools" not in sys.argv:
    args.append("setuptools")
if "--no-wheel" not in sys.argv:
    args.append("wheel")
wheel = sorted(glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), "_bundled", "pip-*.whl")))[-1]
sys.path.insert(0, wheel)
from pip._internal.cli.main import main  # noqa: E402

sys.exit(main(["install", *args]))
