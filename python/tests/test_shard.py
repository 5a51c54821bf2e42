"""`cake-connector pull --shard I/N`: N processes into one table, one of them killed and run
again, hold exactly what one pull writes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

import cake_connector as cc
from conftest import TODAY, assert_same_rows, assert_unique, day, read_pulled

BINARY = os.environ.get("CAKE_CONNECTOR_BIN")
pytestmark = pytest.mark.skipif(not BINARY, reason="CAKE_CONNECTOR_BIN (the CLI to run) is not set")

FIRST, LAST = day(14), day(3)  # twelve days
DAYS = [day(n) for n in range(14, 2, -1)]
SHARDS = 4
KILLED = 1
ROWS_PER_DAY = 100
PAGE_SIZE = 25  # four pages a day
# Each request waits this long: a shard's three windows of four pages take about 2 s.
LATENCY_MS = 150


def shard(sb, out: Path, index: int, fmt: str, summary: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            BINARY,
            "pull",
            "clicks",
            "--start",
            FIRST,
            "--end",
            LAST,
            "--out",
            str(out),
            "--format",
            fmt,
            "--domain",
            sb.domain,
            "--shard",
            f"{index}/{SHARDS}",
            "--page-size",
            str(PAGE_SIZE),
            "--concurrency",
            "1",
            "--summary-json",
            str(summary),
            "-q",
        ],
        env={**os.environ, "CAKE_API_KEY": sb.api_key},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen) -> None:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err


def window_days(summary: Path) -> list:
    """The first days of the windows a run committed, from its `--summary-json`."""
    document = json.loads(summary.read_text())
    assert document["status"] == "ok"
    return [w["start"] for report in document["reports"] for w in report["windows"]]


def sharded_pull(tmp_path: Path, fmt: str) -> Path:
    out = tmp_path / f"sharded-{fmt}"
    summaries = [tmp_path / f"{fmt}-shard-{i}.json" for i in range(SHARDS)]
    with cc.sandbox(rows_per_day=ROWS_PER_DAY, today=TODAY, latency_ms=LATENCY_MS) as sb:
        processes = [shard(sb, out, i, fmt, summaries[i]) for i in range(SHARDS)]
        time.sleep(0.8)
        victim = processes[KILLED]
        assert victim.poll() is None, "the shard to kill ended before it could be killed"
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=30)
        assert victim.returncode == -signal.SIGKILL
        for i, process in enumerate(processes):
            if i != KILLED:
                finish(process)
        # Killed mid-run, then run again: its windows are written once, whole.
        finish(shard(sb, out, KILLED, fmt, summaries[KILLED]))

    # The shards' windows: every day, each in one shard only.
    seen = [d for summary in summaries for d in window_days(summary)]
    assert sorted(seen) == sorted(DAYS)
    return out


def single_pull(tmp_path: Path, fmt: str) -> Path:
    out = tmp_path / f"single-{fmt}"
    with cc.sandbox(rows_per_day=ROWS_PER_DAY, today=TODAY) as sb:
        summary = cc.pull(
            "clicks",
            out=str(out),
            format=fmt,
            domain=sb.domain,
            api_key=sb.api_key,
            start=FIRST,
            end=LAST,
            page_size=PAGE_SIZE,
        )
    assert summary["rows"] == 12 * ROWS_PER_DAY
    return out


def test_shards_into_parquet(tmp_path):
    sharded = sharded_pull(tmp_path, "parquet")
    single = single_pull(tmp_path, "parquet")
    partitions = sorted(p.name for p in (sharded / "clicks").iterdir() if p.name.startswith("date="))
    assert partitions == [f"date={d}" for d in sorted(DAYS)]
    for partition in partitions:
        assert (sharded / "clicks" / partition / "_SUCCESS").is_file()
    union = read_pulled(sharded / "clicks")
    expected = read_pulled(single / "clicks")
    assert union.num_rows == 12 * ROWS_PER_DAY
    assert_unique(union, ["click_id"])
    assert union.schema.equals(expected.schema, check_metadata=False)
    assert_same_rows(union, expected, ["click_id"])


def test_shards_into_delta(tmp_path):
    deltalake = pytest.importorskip("deltalake")
    sharded = sharded_pull(tmp_path, "delta")
    single = single_pull(tmp_path, "delta")
    union = deltalake.DeltaTable(str(sharded / "clicks")).to_pyarrow_table()
    expected = deltalake.DeltaTable(str(single / "clicks")).to_pyarrow_table()
    assert union.num_rows == 12 * ROWS_PER_DAY
    assert_unique(union, ["click_id"])
    assert sorted(set(d.isoformat() for d in union.column("date").to_pylist())) == sorted(DAYS)
    assert union.schema.equals(expected.schema, check_metadata=False)
    assert_same_rows(union, expected, ["click_id"])
