"""The dlt source: merged incremental runs with a lookback, and a state of constant size."""

from __future__ import annotations

import json

import pytest

dlt = pytest.importorskip("dlt")
duckdb = pytest.importorskip("duckdb")

import pyarrow as pa  # noqa: E402

import cake_connector as cc  # noqa: E402
from cake_connector.dlt import cake_source, resource_name  # noqa: E402
from conftest import TODAY, day  # noqa: E402

FIRST, LAST = day(14), day(5)  # ten days
LOOKBACK = 2


@pytest.fixture(autouse=True)
def quiet_dlt(tmp_path, monkeypatch):
    # No telemetry, and nothing written outside the test's directory.
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt-data"))
    monkeypatch.setenv("DLT_PROJECT_DIR", str(tmp_path))


@pytest.fixture(scope="module")
def sandbox():
    with cc.sandbox(rows_per_day=20, today=TODAY) as sb:
        yield sb


class Reads:
    """Every call of `cake_connector.read`, with its options."""

    def __init__(self, monkeypatch):
        self.calls = []
        real = cc.read

        def read(report, **options):
            self.calls.append((report, {k: v for k, v in options.items() if k != "api_key"}))
            return real(report, **options)

        monkeypatch.setattr(cc, "read", read)


def pipeline(tmp_path, name):
    return dlt.pipeline(
        pipeline_name=name,
        destination=dlt.destinations.duckdb(str(tmp_path / f"{name}.duckdb")),
        dataset_name="cake",
        pipelines_dir=str(tmp_path / "pipelines"),
    )


def query(tmp_path, name, sql):
    with duckdb.connect(str(tmp_path / f"{name}.duckdb"), read_only=True) as db:
        return db.sql(sql).fetchall()


def resource_state(p, report):
    resources = p.state["sources"]["cake"].get("resources", {})
    return resources.get(resource_name(report), {})


def loaded(p, table):
    return p.last_trace.last_normalize_info.row_counts.get(table, 0)


def source(sb, reports=("clicks",), **options):
    return cake_source(
        list(reports),
        domain=sb.domain,
        api_key=sb.api_key,
        start=FIRST,
        end=LAST,
        lookback_days=LOOKBACK,
        **options,
    )


def test_two_runs_merge_the_lookback(sandbox, tmp_path, monkeypatch):
    reads = Reads(monkeypatch)
    p = pipeline(tmp_path, "clicks")

    p.run(source(sandbox))
    assert reads.calls == [("clicks", {"domain": sandbox.domain, "start": FIRST, "end": LAST})]
    assert loaded(p, "clicks") == 10 * 20
    first_state = resource_state(p, "clicks")
    assert first_state == {"last_day": LAST}

    reads.calls.clear()
    p.run(source(sandbox))
    # The second run reads the last day read and the LOOKBACK days before it, no more.
    again = day(5 + LOOKBACK)
    assert reads.calls == [("clicks", {"domain": sandbox.domain, "start": again, "end": LAST})]
    assert loaded(p, "clicks") == (LOOKBACK + 1) * 20
    assert resource_state(p, "clicks") == first_state

    assert query(tmp_path, "clicks", "SELECT count(*), count(DISTINCT click_id) FROM cake.clicks") == [
        (200, 200)
    ]
    expected = pa.table(
        cc.read("clicks", domain=sandbox.domain, api_key=sandbox.api_key, start=FIRST, end=LAST)
    )
    ids = [row[0] for row in query(tmp_path, "clicks", "SELECT click_id FROM cake.clicks ORDER BY 1")]
    assert ids == sorted(expected.column("click_id").to_pylist())


def test_the_state_does_not_grow_with_the_rows(tmp_path):
    """The resource state is one day: the same size after one run or two, whatever the rows."""
    sizes = {}
    for rows_per_day in (5, 100):
        with cc.sandbox(rows_per_day=rows_per_day, today=TODAY) as sb:
            name = f"rows{rows_per_day}"
            p = pipeline(tmp_path, name)
            for run in (1, 2):
                p.run(source(sb))
                sizes[rows_per_day, run] = (
                    len(json.dumps(resource_state(p, "clicks"))),
                    len(json.dumps(p.state["sources"])),
                )
            assert query(tmp_path, name, "SELECT count(*) FROM cake.clicks") == [(10 * rows_per_day,)]
    assert len(set(sizes.values())) == 1, sizes


def test_summary_reports_get_the_day_of_their_window(sandbox, tmp_path):
    """A summary answers one row per entity per day: its key is (date, entity)."""
    p = pipeline(tmp_path, "summary")
    p.run(source(sandbox, reports=["campaigns-summary"]))
    p.run(source(sandbox, reports=["campaigns-summary"]))
    rows = query(
        tmp_path,
        "summary",
        "SELECT count(*), count(DISTINCT (date, campaign_id)), count(DISTINCT date), min(date), max(date) "
        "FROM cake.campaigns_summary",
    )
    total, distinct, days, first, last = rows[0]
    assert total == distinct and total > 0
    assert days == 10
    assert (first.isoformat(), last.isoformat()) == (FIRST, LAST)
    assert resource_state(p, "campaigns-summary") == {"last_day": LAST}


def test_snapshots_are_replaced(sandbox, tmp_path, monkeypatch):
    reads = Reads(monkeypatch)
    p = pipeline(tmp_path, "snapshot")
    for _ in range(2):
        p.run(source(sandbox, reports=["currencies", "offers"]))
    assert query(tmp_path, "snapshot", "SELECT count(*) FROM cake.currencies") == [(2,)]
    offers = query(tmp_path, "snapshot", "SELECT count(*), count(DISTINCT offer_id) FROM cake.offers")
    assert offers == [(12, 12)]
    # Options of dated reports are not given to snapshots.
    assert all("end" not in options for _, options in reads.calls)
    assert resource_state(p, "currencies") == {}


def test_a_dated_report_needs_a_start(sandbox):
    with pytest.raises(ValueError, match="start"):
        cake_source(["clicks"], domain=sandbox.domain, api_key=sandbox.api_key)
    # Snapshots do not.
    cake_source(["offers"], domain=sandbox.domain, api_key=sandbox.api_key)


def test_options_are_checked_when_the_source_is_made(sandbox):
    with pytest.raises(ValueError, match="past_days"):
        cake_source(["clicks"], domain=sandbox.domain, api_key=sandbox.api_key, start=FIRST, past_days=3)
    with pytest.raises(cc.ConfigError, match="colour"):
        cake_source(["clicks"], domain=sandbox.domain, api_key=sandbox.api_key, start=FIRST, colour="blue")
    with pytest.raises(ValueError, match="offers"):
        cake_source(
            ["clicks"],
            domain=sandbox.domain,
            api_key=sandbox.api_key,
            start=FIRST,
            report_options={"offers": {"offer_id": 3001}},
        )


def test_per_report_options(sandbox, tmp_path):
    p = pipeline(tmp_path, "filtered")
    p.run(
        cake_source(
            ["clicks", "offers"],
            domain=sandbox.domain,
            api_key=sandbox.api_key,
            start=FIRST,
            end=LAST,
            report_options={"clicks": {"offer_id": 3001}, "offers": {"offer_id": 3001}},
        )
    )
    assert query(tmp_path, "filtered", "SELECT DISTINCT site_offer_id FROM cake.clicks") == [(3001,)]
    assert query(tmp_path, "filtered", "SELECT offer_id FROM cake.offers") == [(3001,)]


def test_domain_and_key_from_dlt_config(sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCES__CAKE__DOMAIN", sandbox.domain)
    monkeypatch.setenv("SOURCES__CAKE__API_KEY", sandbox.api_key)
    p = pipeline(tmp_path, "configured")
    p.run(cake_source(["currencies"]))
    assert query(tmp_path, "configured", "SELECT count(*) FROM cake.currencies") == [(2,)]
    assert sandbox.api_key not in json.dumps(p.state, default=str)
