"""Ctrl-C (SIGINT) stops a long read with KeyboardInterrupt."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from conftest import TODAY

# 30 day windows, each at least 200 ms away: about 6 s of reading after the first batch.
SCRIPT = f"""
import cake_connector as cc

with cc.sandbox(rows_per_day=20, latency_ms=200, today="{TODAY.isoformat()}") as sb:
    stream = cc.read(
        "clicks",
        domain=sb.domain,
        api_key=sb.api_key,
        start="2025-05-01",
        end="2025-05-30",
        concurrency=1,
    )
    for i, batch in enumerate(stream):
        if i == 0:
            print("started", flush=True)
    print("finished", flush=True)
"""


def test_ctrl_c_stops_a_read(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-u", "-c", SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        line = process.stdout.readline()
        assert line.strip() == "started", process.stderr.read() if not line else line
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    print(f"\nstopped {took:.2f} s after SIGINT")
    assert process.returncode != 0
    assert "KeyboardInterrupt" in err, err
    assert "finished" not in out
    assert took < 10
