"""A million rows reach pyarrow without a copy: the buffers stay those the native module
filled, so pyarrow's allocator does not grow with the rows."""

from __future__ import annotations

import time

import pyarrow as pa

import cake_connector as cc
from conftest import TODAY, day

# Leads by Affiliate: a tenth of `rows_per_day` per day, narrow rows, so that a million rows
# are one day of the largest sandbox.
REPORT = "leads-by-affiliate"
ROWS_PER_DAY = 10_000_000
ROWS = 1_000_000
# pyarrow's own allocations while importing the stream: the C structures and the table's
# chunk lists, whatever the rows.
BOUND = 4 * 1024 * 1024


def test_a_million_rows_without_a_copy():
    with cc.sandbox(rows_per_day=ROWS_PER_DAY, today=TODAY) as sb:
        stream = cc.read(REPORT, domain=sb.domain, api_key=sb.api_key, start=day(1), end=day(1))
        before = pa.total_allocated_bytes()
        started = time.perf_counter()
        table = pa.table(stream)
        seconds = time.perf_counter() - started
        grown = pa.total_allocated_bytes() - before

    assert table.num_rows == ROWS
    print(
        f"\n{table.num_rows:,} rows ({table.nbytes / 2**20:,.0f} MiB of Arrow data) in "
        f"{seconds:.1f} s: {table.num_rows / seconds:,.0f} rows/s; pyarrow's allocator grew "
        f"by {grown:,} bytes"
    )
    assert table.nbytes > 25 * BOUND
    assert grown < BOUND
