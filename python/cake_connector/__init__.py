"""CAKE (getcake.com) reports as typed Arrow streams, Parquet and Delta tables.

    import pyarrow as pa
    import cake_connector as cc

    with cc.sandbox(today="2026-03-10") as box:
        table = pa.table(cc.read("clicks", domain=box.domain, api_key=box.api_key,
                                 start="2026-03-07", end="2026-03-09"))

Every window of a read is fetched and checked exactly as the command line's `pull` checks it:
a window's rows are handed out only once the window is whole and consistent, or the read
raises. The report options are keyword arguments under their config-file names (`past_days`,
`start`, `end`, `offer_id`, ...); `plan()` gives the windows with the keywords that read each
one alone.
"""

from __future__ import annotations

import contextlib
from typing import Any, Dict, Iterator, List, Optional

from . import _native, errors
from .errors import (
    AuthError,
    CakeError,
    CakeTimeoutError,
    ConfigError,
    ConnectError,
    DriftError,
    IncompleteWindowError,
    InternalError,
    NotCakeError,
    OutputError,
    RejectedError,
    StoppedError,
    ThrottledError,
    TlsError,
    UnknownHostError,
)

__version__ = _native.__version__

Schema = _native.Schema


class Stream:
    """The batches of a read, windows in plan order.

    - `pyarrow.table(stream)`, `pyarrow.RecordBatchReader.from_stream(stream)`,
      `polars.DataFrame(stream)` and DuckDB take it through the Arrow PyCapsule interface
      (`__arrow_c_stream__`), without a copy; a stream is consumed once.
    - `for batch in stream` yields `pyarrow.RecordBatch` objects; Ctrl-C stops the read.
    - `windows` lists the windows handed out so far.
    """

    def __init__(self, reader: "_native.Reader") -> None:
        self._reader = reader

    @property
    def schema(self) -> Schema:
        return self._reader.schema

    @property
    def windows(self) -> List[Dict[str, Any]]:
        return self._reader.windows

    def __arrow_c_schema__(self) -> Any:
        return self._reader.__arrow_c_schema__()

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        return self._reader.__arrow_c_stream__(requested_schema)

    def __iter__(self) -> Iterator[Any]:
        import pyarrow as pa

        while True:
            pair = self._reader.next_batch()
            if pair is None:
                return
            schema, array = pair
            yield pa.RecordBatch._import_from_c_capsule(schema, array)

    def read_all(self) -> Any:
        """The whole stream as a `pyarrow.Table`."""
        import pyarrow as pa

        return pa.Table.from_batches(list(self), schema=pa.schema(self.schema))

    def close(self) -> None:
        """Stops the read."""
        self._reader.close()

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def reports() -> List[Dict[str, Any]]:
    """Every report of the catalog (as `cake-connector reports --json` lists them)."""
    return _native.reports()


def describe(report: str) -> Dict[str, Any]:
    """One report: its options, columns, keys and dates (as `describe REPORT --json`)."""
    return _native.describe(report)


def schema(report: str) -> Schema:
    """The Arrow schema of a report's batches and tables (`pyarrow.schema(...)` reads it)."""
    return _native.schema(report)


def plan(report: str, **options: Any) -> List[Dict[str, Any]]:
    """The windows a read or pull of `report` with `options` fetches, in order; each with the
    keyword arguments (`options`) that read that window alone. `domain` and `api_key` may be
    given and are not needed."""
    return _native.plan(report, **options)


def read(report: str, *, domain: str, api_key: str, **options: Any) -> Stream:
    """Reads `report` from the instance `domain` as a stream of Arrow record batches."""
    return Stream(_native.read(report, domain=domain, api_key=api_key, **options))


def pull(
    report: str,
    *,
    out: str,
    domain: str,
    api_key: str,
    format: str = "parquet",
    **options: Any,
) -> Dict[str, Any]:
    """Pulls `report` into the table `out/<table>` (Parquet, or Delta with `format="delta"`),
    as the command line's `pull` does; returns the run's summary."""
    return _native.pull(
        report, out=out, domain=domain, api_key=api_key, format=format, **options
    )


def sync(
    config_path: str,
    *,
    api_key: Optional[str] = None,
    domain: Optional[str] = None,
    full_refresh: bool = False,
) -> Dict[str, Any]:
    """Runs a sync config (`cake-connector sync --config FILE`); returns what each report
    synced. The key comes from `api_key`, the config or `CAKE_API_KEY`."""
    return _native.sync(
        str(config_path), api_key=api_key, domain=domain, full_refresh=full_refresh
    )


def convert(
    report: str, input: str, *, out: str, timezone: Optional[str] = None
) -> Dict[str, Any]:
    """Converts a saved response of `report` into one Parquet file `out`."""
    return _native.convert(report, str(input), out=str(out), timezone=timezone)


@contextlib.contextmanager
def sandbox(**config: Any) -> Iterator["_native.Sandbox"]:
    """Starts the embedded Cake-compatible sandbox on 127.0.0.1 and yields it (`.domain`,
    `.api_key`, `.today`); stops it on exit. Settings: `seed`, `rows_per_day`, `today`,
    `latency_ms`, the fault rates and `hostile`."""
    box = _native.Sandbox(**config)
    try:
        yield box
    finally:
        box.stop()


__all__ = [
    "Stream",
    "Schema",
    "reports",
    "describe",
    "schema",
    "plan",
    "read",
    "pull",
    "sync",
    "convert",
    "sandbox",
    *errors.__all__,
]
