"""`read` hands out exactly the rows and types that `pull` writes, for every report."""

from __future__ import annotations

import pyarrow as pa
import pytest

import cake_connector as cc
from conftest import (
    TODAY,
    assert_same_rows,
    assert_same_schema,
    day,
    days_options,
    read_pulled,
)

REPORTS = [report["id"] for report in cc.reports()]


@pytest.fixture(scope="module")
def sandbox():
    with cc.sandbox(rows_per_day=20, today=TODAY) as sb:
        yield sb


def connection(sb):
    return {"domain": sb.domain, "api_key": sb.api_key}


def test_the_catalog_has_every_report():
    assert len(REPORTS) == 37
    for report in cc.reports():
        assert {"id", "name", "dated", "paged", "service", "method", "verified", "version"} <= set(report)


@pytest.mark.parametrize("report", REPORTS)
def test_read_is_what_pull_writes(sandbox, report, tmp_path):
    """Three days (or the snapshot): the same rows, row for row, and the same types."""
    options = days_options(report, day(5), day(3))
    described = cc.describe(report)

    table = pa.table(cc.read(report, **connection(sandbox), **options))
    summary = cc.pull(report, out=str(tmp_path), **connection(sandbox), **options)
    pulled = read_pulled(tmp_path / summary["table"])

    assert_same_schema(table.schema, pulled.schema)
    assert_same_schema(pa.schema(cc.schema(report)), table.schema)
    assert table.num_rows == summary["rows"]
    assert_same_rows(table, pulled, described["primary_key"])


def test_dated_reports_have_rows(sandbox):
    """The comparison above is not between empty tables: the sandbox has rows for the days
    read in every report that has data by the day."""
    for report in ("clicks", "conversions", "campaigns-summary", "daily-summary", "login-export"):
        table = pa.table(cc.read(report, **connection(sandbox), **days_options(report, day(5), day(3))))
        assert table.num_rows > 0, report


def test_schema_is_the_tables(sandbox):
    table = pa.table(cc.read("offers", **connection(sandbox)))
    schema = pa.schema(cc.schema("offers"))
    assert schema.equals(table.schema)
    # Nested columns stay nested.
    assert pa.types.is_list(schema.field("offer_contracts").type)


def test_a_stream_through_every_interface(sandbox):
    options = {**connection(sandbox), "start": day(5), "end": day(3)}
    expected = pa.table(cc.read("clicks", **options))
    assert expected.num_rows == 60
    assert expected.column("click_id").null_count == 0

    reader = pa.RecordBatchReader.from_stream(cc.read("clicks", **options))
    assert reader.schema.equals(expected.schema)
    assert reader.read_all().equals(expected)

    batches = list(cc.read("clicks", **options))
    assert batches and all(isinstance(b, pa.RecordBatch) for b in batches)
    assert all(b.schema.equals(expected.schema) for b in batches)
    assert pa.Table.from_batches(batches).equals(expected)

    with cc.read("clicks", **options) as stream:
        assert pa.schema(stream.schema).equals(expected.schema)
        table = stream.read_all()
        assert isinstance(table, pa.Table)
        assert table.equals(expected)

    pl = pytest.importorskip("polars")
    frame = pl.DataFrame(cc.read("clicks", **options))
    assert frame.shape == (60, expected.num_columns)
    assert frame["click_id"].to_list() == expected.column("click_id").to_pylist()
    # polars.from_arrow takes any Arrow stream as one Series of structs, a row each.
    rows = pl.from_arrow(cc.read("clicks", **options))
    assert rows.struct.unnest().equals(frame)

    pandas = pa.table(cc.read("clicks", **options)).to_pandas()
    assert len(pandas) == 60


@pytest.mark.parametrize("consumed", ["iterated", "read_all", "capsule"])
def test_the_windows_read_so_far(sandbox, consumed):
    options = {**connection(sandbox), "start": day(5), "end": day(3)}
    with cc.read("clicks", **options) as stream:
        assert stream.windows == []
        if consumed == "iterated":
            for _ in stream:
                pass
        elif consumed == "read_all":
            stream.read_all()
        else:
            pa.RecordBatchReader.from_stream(stream).read_all()
        windows = stream.windows
    assert [w["start"] for w in windows] == [day(5), day(4), day(3)]
    assert [w["end"] for w in windows] == [day(4), day(3), day(2)]  # exclusive, as in plan()
    assert [w["partition"] for w in windows] == [f"date={day(n)}" for n in (5, 4, 3)]
    assert [w["rows"] for w in windows] == [20, 20, 20]
    assert all(w["pages"] == 1 for w in windows)


def test_duckdb_scans_a_stream(sandbox):
    duckdb = pytest.importorskip("duckdb")
    stream = cc.read("clicks", **connection(sandbox), start=day(5), end=day(3))  # noqa: F841
    rows = duckdb.sql("SELECT count(*), count(DISTINCT click_id) FROM stream").fetchall()
    assert rows == [(60, 60)]


def test_plan_is_the_windows_read(sandbox):
    windows = cc.plan("clicks", start=day(5), end=day(3), **connection(sandbox))
    assert [w["index"] for w in windows] == [0, 1, 2]
    assert [w["start"] for w in windows] == [day(5), day(4), day(3)]
    assert [w["end"] for w in windows] == [day(4), day(3), day(2)]  # exclusive
    assert [w["partition"] for w in windows] == [f"date={day(n)}" for n in (5, 4, 3)]
    # Each window's options read that window alone.
    whole = pa.table(cc.read("clicks", **connection(sandbox), start=day(5), end=day(3)))
    parts = [pa.table(cc.read("clicks", **connection(sandbox), **w["options"])) for w in windows]
    assert [p.num_rows for p in parts] == [20, 20, 20]
    assert pa.concat_tables(parts).equals(whole)
    # A snapshot is one window without days.
    (snapshot,) = cc.plan("offers")
    assert snapshot["start"] is None and snapshot["end"] is None and snapshot["partition"] is None
