"""A dlt source of CAKE reports: one resource per report, Arrow batches from `read`.

```python
import dlt
from cake_connector.dlt import cake_source

source = cake_source(["clicks", "offers"], domain="mycompany", api_key="...", start="2026-01-01")
dlt.pipeline(pipeline_name="cake", destination="duckdb").run(source)
```

Each resource is named after its report id with hyphens replaced by underscores
(`campaigns-summary` is the resource and table `campaigns_summary`), and yields the
`pyarrow.RecordBatch`es that `cake_connector.read` hands out: every window is fetched and
checked exactly as `cake-connector pull` checks it before any of its rows reach dlt.

- Dated reports are merged (`write_disposition="merge"`) on the report's table key. The
  first run reads from `start` through today (the instance's time zone); every later run
  starts `lookback_days` before the last day the previous run read (Cake changes recent days
  after the fact) and merges those days again. The resource's state is that one day and
  nothing else: it does not grow with the rows.
- Conversion Changes reads the changes since its cursor minus the lookback; its state is the
  day of its last run.
- Entities and lookups are replaced whole on every run (`write_disposition="replace"`).

The tables have the report's columns and types unchanged, with one exception: the summary
reports whose rows repeat from day to day (Affiliate Summary, Campaigns Summary, Caps,
Traffic Export, Exchange Rates: their table key starts with `date`) get a `date` column (a
`date32`, never null), the first day of the window the row answers, as in the partitions that
`pull` writes.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Union

import dlt
import pyarrow as pa

import cake_connector as _cc

__all__ = ["cake_source", "resource_name"]

# Options that choose the days of a run: the source sets them itself from `start`, the
# state and the lookback.
_CHOSEN_BY_THE_SOURCE = ("past_days", "date", "days_back", "start_days_back")
# Options that only dated range reports take: left out for the other reports of a source.
_RANGE_ONLY = ("end", "end_days_back", "window")

_DAY = _dt.timedelta(days=1)

Day = Union[str, _dt.date]


def resource_name(report: str) -> str:
    """The dlt resource (and table) name of a report id: hyphens become underscores."""
    return report.replace("-", "_")


def _to_day(value: Day, what: str) -> _dt.date:
    if isinstance(value, _dt.datetime):
        raise ValueError(f"{what} must be a day (YYYY-MM-DD or datetime.date), not a datetime")
    if isinstance(value, _dt.date):
        return value
    try:
        return _dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{what} must be a day as YYYY-MM-DD, not {value!r}") from None


def _today(timezone: str) -> _dt.date:
    from zoneinfo import ZoneInfo

    return _dt.datetime.now(ZoneInfo(timezone)).date()


def _with_day(batch: pa.RecordBatch, day: _dt.date) -> pa.RecordBatch:
    """The batch with a `date` column holding `day` (date32, never null) appended."""
    column = pa.array([day] * batch.num_rows, type=pa.date32())
    schema = batch.schema.append(pa.field("date", pa.date32(), nullable=False))
    return pa.RecordBatch.from_arrays(list(batch.columns) + [column], schema=schema)


def _batches(stream: Any) -> Iterator[pa.RecordBatch]:
    """Every non-empty batch of a stream; the stream is closed however the iteration ends."""
    with stream:
        for batch in stream:
            if batch.num_rows:
                yield batch


class _Report:
    """What a resource needs to know of one report, read once from the catalog."""

    def __init__(
        self,
        report: str,
        *,
        domain: str,
        api_key: str,
        start: Optional[_dt.date],
        lookback_days: Optional[int],
        options: Mapping[str, Any],
    ) -> None:
        described = _cc.describe(report)
        self.id: str = described["id"]
        self.domain = domain
        self.api_key = api_key
        self.dated: bool = bool(described["dated"])
        self.change_feed = (described.get("dates") or {}).get("kind") == "changes_since"
        columns = {column["name"] for column in described["columns"]}
        table_key: List[str] = list(described.get("table_key") or described["primary_key"])
        # The key columns that are not in the report's rows: the day of the window (`date`).
        self.window_day_column = [name for name in table_key if name not in columns]
        if self.window_day_column not in ([], ["date"]):
            raise ValueError(
                f"{self.id}: the table key {table_key} names columns the report does not have"
            )
        self.key = table_key
        if lookback_days is None:
            lookback_days = described.get("lookback_days", 7)
        lookback_days = int(lookback_days)
        if lookback_days < 0:
            raise ValueError(f"lookback_days must be 0 or more, not {lookback_days}")
        self.lookback = _dt.timedelta(days=lookback_days)
        if self.dated and start is None:
            raise ValueError(
                f"{self.id} is a dated report: cake_source needs start=YYYY-MM-DD, the first "
                "day its first run reads (later runs start from the day the previous one "
                "reached, minus the lookback)"
            )
        self.start = start
        if self.dated and not self.change_feed:
            self.options = dict(options)
        else:
            self.options = {k: v for k, v in options.items() if k not in _RANGE_ONLY}
        self.timezone = str(self.options.get("timezone", "UTC"))
        # An option the report does not take, or a start after today, fails here, before
        # any pipeline runs: the plan is made without a request.
        if self.change_feed:
            _cc.plan(self.id, date=start, **self.options)
        elif self.dated:
            _cc.plan(self.id, start=start, **self._range_end(), **self.options)
        else:
            _cc.plan(self.id, **self.options)

    def _range_end(self) -> Dict[str, Any]:
        """The end of the range when the options do not name one: today."""
        if "end" in self.options or "end_days_back" in self.options:
            return {}
        return {"end_days_back": 0}

    def _read(self, **options: Any) -> Any:
        return _cc.read(self.id, domain=self.domain, api_key=self.api_key, **options)

    def rows(self) -> Iterator[pa.RecordBatch]:
        if self.change_feed:
            yield from self._changes()
        elif self.dated:
            yield from self._range()
        else:
            yield from _batches(self._read(**self.options))

    def _first_day(self, state: Mapping[str, Any], field: str) -> _dt.date:
        assert self.start is not None
        reached = state.get(field)
        if reached is None:
            return self.start
        return max(self.start, _to_day(reached, f"the resource state's {field}") - self.lookback)

    def _range(self) -> Iterator[pa.RecordBatch]:
        state = dlt.current.resource_state()
        since = self._first_day(state, "last_day")
        windows = _cc.plan(self.id, start=since, **self._range_end(), **self.options)
        if not windows:
            return
        last_day = _dt.date.fromisoformat(windows[-1]["end"]) - _DAY
        if self.window_day_column:
            # Rows that repeat from window to window: each window on its own, so that each
            # row gets the day of the window it answers.
            general = {k: v for k, v in self.options.items() if k not in _RANGE_ONLY}
            for window in windows:
                day = _dt.date.fromisoformat(window["start"])
                for batch in _batches(self._read(**{**general, **window["options"]})):
                    yield _with_day(batch, day)
        else:
            options = {k: v for k, v in self.options.items() if k not in ("end", "end_days_back")}
            yield from _batches(
                self._read(start=windows[0]["start"], end=last_day.isoformat(), **options)
            )
        state["last_day"] = last_day.isoformat()

    def _changes(self) -> Iterator[pa.RecordBatch]:
        state = dlt.current.resource_state()
        today = _today(self.timezone)
        since = min(self._first_day(state, "changes_since"), today)
        yield from _batches(self._read(date=since.isoformat(), **self.options))
        state["changes_since"] = today.isoformat()


def _generator(report: _Report) -> Any:
    def rows() -> Iterator[pa.RecordBatch]:
        yield from report.rows()

    return rows


@dlt.source(name="cake", section="cake")
def cake_source(
    reports: Union[str, Sequence[str]],
    *,
    domain: str = dlt.config.value,
    api_key: str = dlt.secrets.value,
    start: Optional[Day] = None,
    lookback_days: Optional[int] = None,
    report_options: Optional[Dict[str, Dict[str, Any]]] = None,
    **options: Any,
) -> Any:
    """CAKE reports as a dlt source, one resource per report.

    Args:
        reports: report ids or display names (`cake_connector.reports()` lists them).
        domain: the Cake instance (`mycompany`, a host name or an `https://` URL); from dlt's
            config (`[sources.cake] domain`) when not given.
        api_key: the API key; from dlt's secrets (`[sources.cake] api_key`) when not given.
        start: the first day the first run of a dated report reads (required when `reports`
            holds a dated report).
        lookback_days: days before the last day read that every later run reads again
            (default: the catalog's, `describe(report)["lookback_days"]`).
        report_options: options of single reports, by report id (`{"clicks": {"offer_id": 12}}`).
        **options: options of `cake_connector.read` for every report: filters, `timezone`,
            `window`, `end` or `end_days_back` (the last day of every run; default today),
            `page_size`, `concurrency`, `retries`. `end`, `end_days_back` and `window` apply
            to dated reports only.
    """
    if isinstance(reports, str):
        reports = [reports]
    chosen = [name for name in _CHOSEN_BY_THE_SOURCE if name in options]
    if chosen:
        raise ValueError(
            f"cake_source chooses the days of each run itself (start, then the state minus "
            f"lookback_days): {', '.join(chosen)} cannot be given"
        )
    start_day = None if start is None else _to_day(start, "start")
    per_report = dict(report_options or {})
    resources = []
    for report in reports:
        own = dict(per_report.pop(report, None) or {})
        own.update(per_report.pop(_cc.describe(report)["id"], None) or {})
        r = _Report(
            report,
            domain=domain,
            api_key=api_key,
            start=start_day,
            lookback_days=lookback_days,
            options={**options, **own},
        )
        name = resource_name(r.id)
        resources.append(
            dlt.resource(
                _generator(r),
                name=name,
                table_name=name,
                write_disposition="merge" if r.dated else "replace",
                primary_key=r.key,
            )
        )
    if per_report:
        raise ValueError(
            f"report_options names reports that are not in reports: {', '.join(sorted(per_report))}"
        )
    return resources
