"""The cake-connector binary the CI scripts run: the one given, or the debug build of the
workspace (which the tests built already, so building it again costs nothing)."""

import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def binary(given=None):
    if given is not None:
        return given
    subprocess.run(["cargo", "build", "-p", "cake-connector"], cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    return os.path.join(os.path.abspath(target), "debug", "cake-connector")
