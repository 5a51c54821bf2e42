"""The cake-connector binary the CI scripts run: the one given, or the debug binary the
workspace's tests use. It is built as `cargo test --workspace` builds it (which CI has done
already, so this costs nothing there): `cargo build -p cake-connector` alone would unify the
dependencies' features differently and rebuild most of them."""

import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def binary(given=None):
    if given is not None:
        return given
    subprocess.run(["cargo", "test", "--workspace", "--no-run", "--quiet"], cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    return os.path.join(os.path.abspath(target), "debug", "cake-connector")
