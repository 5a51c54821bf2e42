"""Shared helpers of the Python tests. Every test talks to `cake_connector.sandbox()` only, on
127.0.0.1."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Sequence

# The tests exercise the installed package (the built wheel, or an editable install), not the
# source tree next to them, which has no native module: `python -m pytest` run from `python/`
# would put that tree first on the path.
_SOURCE_TREE = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or os.curdir).resolve() != _SOURCE_TREE]

import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import pytest  # noqa: E402

import cake_connector as cc  # noqa: E402

# The sandbox's "today", fixed so that every run sees the same rows, and days before it.
TODAY = dt.date(2025, 6, 15)


def day(n: int) -> str:
    """The day `n` days before TODAY, as YYYY-MM-DD."""
    return (TODAY - dt.timedelta(days=n)).isoformat()


def menu_keys(report: str) -> List[str]:
    return [menu["key"] for menu in cc.describe(report).get("menus", [])]


def days_options(report: str, first: str, last: str) -> Dict[str, Any]:
    """The options that read `first` through `last` (inclusive) of a dated report; none for
    a snapshot."""
    described = cc.describe(report)
    if not described["dated"]:
        return {}
    if (described.get("dates") or {}).get("kind") == "changes_since":
        return {"date": first}
    keys = menu_keys(report)
    if "start_date" in keys:
        return {"start": first, "end": last}
    return {"date": first}


def parquet_files(directory: Path) -> List[Path]:
    """The data files of a table written by `pull`: `*.parquet` below it, leaving out every
    path with a part starting with `_` or `.` (manifests, staging, state)."""
    files = []
    for path in sorted(directory.rglob("*.parquet")):
        parts = path.relative_to(directory).parts
        if any(part.startswith(("_", ".")) for part in parts):
            continue
        files.append(path)
    return files


def read_pulled(directory: Path) -> pa.Table:
    """Every row of a Parquet table written by `pull`, without hive partition columns."""
    files = parquet_files(directory)
    assert files, f"no Parquet file under {directory}"
    tables = [pq.read_table(path, partitioning=None) for path in files]
    return pa.concat_tables(tables)


def fields(schema: pa.Schema) -> List[tuple]:
    """Name, type and nullability of every field (list item names are not compared)."""
    return [(f.name, f.type, f.nullable) for f in schema]


def assert_same_schema(actual: pa.Schema, expected: pa.Schema) -> None:
    assert fields(actual) == fields(expected)
    assert actual.equals(expected, check_metadata=False)


def _sortable(t: pa.DataType) -> bool:
    return not (pa.types.is_nested(t) or pa.types.is_dictionary(t))


def sort_keys(table: pa.Table, key: Sequence[str]) -> List[tuple]:
    """The key columns first, then every other column that can be sorted on."""
    names = list(key) + [
        f.name for f in table.schema if f.name not in key and _sortable(f.type)
    ]
    return [(name, "ascending") for name in names]


def sorted_table(table: pa.Table, key: Sequence[str]) -> pa.Table:
    return table.sort_by(sort_keys(table, key)).combine_chunks()


def assert_same_rows(actual: pa.Table, expected: pa.Table, key: Sequence[str]) -> None:
    """The same rows, in any order: both sorted by the key, then by every other column."""
    assert actual.num_rows == expected.num_rows
    a = sorted_table(actual, key)
    e = sorted_table(expected, key)
    if a.equals(e):
        return
    for name in e.column_names:
        if not a.column(name).equals(e.column(name)):
            left, right = a.column(name).to_pylist(), e.column(name).to_pylist()
            row = next((i for i, (x, y) in enumerate(zip(left, right)) if x != y), 0)
            raise AssertionError(
                f"column {name} differs, first at row {row}: {left[row]!r} vs {right[row]!r}"
            )
    raise AssertionError("the tables differ")


def assert_unique(table: pa.Table, key: Sequence[str]) -> None:
    if len(key) == 1:
        distinct = pc.count_distinct(table.column(key[0])).as_py()
    else:
        distinct = table.group_by(list(key)).aggregate([]).num_rows
    assert distinct == table.num_rows, f"{table.num_rows - distinct} repeated keys {list(key)}"


@pytest.fixture(scope="session")
def catalog() -> List[Dict[str, Any]]:
    return cc.reports()
