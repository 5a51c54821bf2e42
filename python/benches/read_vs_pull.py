"""Figures of the Python module, printed: rows per second of `read` (into a pyarrow Table)
against `pull` (into Parquet) of the same days, the peak memory of a 1,000,000-row read, and
Spark's wall time over six day windows. Run it against the wheel installed in a venv:

    python python/benches/read_vs_pull.py [--rows-per-day N] [--runs N] [--spark]

Every figure is a best of `--runs`, against the embedded sandbox on 127.0.0.1, run in a
process of its own (it takes its share of the two cores, as an instance's network would not).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time

import pyarrow as pa

import cake_connector as cc

TODAY = "2026-03-10"


def best(runs, fn):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        rows = fn()
        times.append(time.perf_counter() - started)
    return rows, min(times)


@contextlib.contextmanager
def sandbox_process(rows_per_day: int):
    """A sandbox in a child process: yields its (domain, api_key)."""
    code = f"""
import sys, cake_connector as cc
with cc.sandbox(rows_per_day={rows_per_day}, today="{TODAY}") as box:
    print(box.domain, box.api_key, flush=True)
    sys.stdin.read()
"""
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        domain, key = child.stdout.readline().split()
        yield domain, key
    finally:
        child.stdin.close()
        child.wait()


def peak_rss_of_a_million_rows() -> float:
    """Peak RSS (MiB) of a fresh process that reads 1,000,000 rows into a pyarrow Table, the
    sandbox in another process."""
    with sandbox_process(10_000_000) as (domain, key):
        code = f"""
import pyarrow as pa, cake_connector as cc
def hwm():  # KiB; VmHWM starts again at exec, ru_maxrss does not
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
base = hwm()
t = pa.table(cc.read("leads-by-affiliate", domain="{domain}", api_key="{key}",
                     start="2026-03-09", end="2026-03-09"))
assert t.num_rows == 1_000_000
print(base / 1024, hwm() / 1024, t.nbytes / 2**20)
"""
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True)
    base, peak, arrow = (float(x) for x in out.stdout.split())
    print(f"1,000,000-row read (leads-by-affiliate): peak RSS {peak:,.0f} MiB "
          f"(before the read {base:,.0f} MiB; the table itself {arrow:,.0f} MiB of Arrow data)")
    return peak


def spark_six_windows(domain: str, key: str) -> None:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    from cake_connector.spark import CakeDataSource

    started = time.perf_counter()
    spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
             .getOrCreate())
    spark.dataSource.register(CakeDataSource)
    session = time.perf_counter() - started
    def run():
        df = (spark.read.format("cake").option("report", "clicks")
              .option("domain", domain).option("api_key", key)
              .option("start", "2026-03-03").option("end", "2026-03-08").load())
        assert df.rdd.getNumPartitions() == 6
        return df.count()
    rows, seconds = best(3, run)
    print(f"Spark local[2], clicks over 6 day windows: {rows:,} rows in {seconds:.2f} s "
          f"(the session's start: {session:.1f} s)")
    spark.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows-per-day", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--spark", action="store_true")
    args = parser.parse_args()
    with sandbox_process(args.rows_per_day) as (domain, key):
        conn = {"domain": domain, "api_key": key}
        days = {"start": "2026-03-06", "end": "2026-03-09"}
        rows, read_s = best(args.runs, lambda: pa.table(cc.read("clicks", **conn, **days)).num_rows)
        with tempfile.TemporaryDirectory() as out:
            pulled, pull_s = best(
                args.runs, lambda: cc.pull("clicks", out=out, **conn, **days)["rows"])
        assert rows == pulled
        print(f"clicks, 4 days of {args.rows_per_day:,} rows: read {rows / read_s:,.0f} rows/s "
              f"({read_s:.2f} s), pull {rows / pull_s:,.0f} rows/s ({pull_s:.2f} s)")
        if args.spark:
            spark_six_windows(domain, key)
    peak_rss_of_a_million_rows()


if __name__ == "__main__":
    main()
