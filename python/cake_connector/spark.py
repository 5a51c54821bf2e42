"""CAKE reports as a PySpark (>= 4.0) Python data source: `spark.read.format("cake")`.

```python
from cake_connector.spark import CakeDataSource

spark.dataSource.register(CakeDataSource)
df = (
    spark.read.format("cake")
    .option("report", "clicks")
    .option("domain", "mycompany")
    .option("api_key", api_key)
    .option("start", "2026-01-01")
    .option("end", "2026-01-31")
    .load()
)
```

Options are `report` (or the path given to `load`), `domain`, `api_key` and the keyword
arguments of `cake_connector.read` (`start`, `end`, `past_days`, `offer_id`, `timezone`,
`window`, `page_size`, ...), as strings; names are case-insensitive. Without `domain` or
`api_key`, the `CAKE_DOMAIN` and `CAKE_API_KEY` environment variables of the process that
reads are used.

The schema is the report's catalog schema, nullability included. The plan's windows
(`cake_connector.plan`) are the DataFrame's partitions, one Spark task each; every task
fetches and checks its window exactly as `cake-connector pull` does and hands its rows to
Spark as Arrow record batches.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterator, List, Mapping, Optional

import pyarrow as pa
from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    BooleanType,
    ByteType,
    DataType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    MapType,
    ShortType,
    StringType,
    StructField,
    StructType,
    TimestampNTZType,
    TimestampType,
)

import cake_connector as _cc

__all__ = ["CakeDataSource", "CakeWindow", "arrow_to_spark", "spark_to_arrow"]

# Options of `read` whose values are integers; every other option is passed as its string.
_INT_OPTIONS = frozenset(
    [
        "days_back",
        "start_days_back",
        "end_days_back",
        "offer_id",
        "advertiser_id",
        "page_size",
        "concurrency",
        "retries",
    ]
)
# Options that choose days: a window's own options replace them.
_DATE_OPTIONS = frozenset(
    ["past_days", "date", "days_back", "start", "end", "start_days_back", "end_days_back"]
)
# Options of the data source itself, not of `read`.
_OWN_OPTIONS = frozenset(["report", "path", "domain", "api_key"])


def _is_string_view(t: pa.DataType) -> bool:
    is_string_view = getattr(pa.types, "is_string_view", None)  # pyarrow 16 and later
    return bool(is_string_view and is_string_view(t))


def _arrow_type_to_spark(t: pa.DataType) -> DataType:
    types = pa.types
    if types.is_boolean(t):
        return BooleanType()
    if types.is_int8(t):
        return ByteType()
    if types.is_int16(t):
        return ShortType()
    if types.is_int32(t):
        return IntegerType()
    if types.is_int64(t):
        return LongType()
    if types.is_float32(t):
        return FloatType()
    if types.is_float64(t):
        return DoubleType()
    if types.is_decimal(t):
        return DecimalType(t.precision, t.scale)
    if types.is_string(t) or types.is_large_string(t) or _is_string_view(t):
        return StringType()
    if types.is_binary(t) or types.is_large_binary(t):
        return BinaryType()
    if types.is_date32(t):
        return DateType()
    if types.is_timestamp(t):
        return TimestampType() if t.tz is not None else TimestampNTZType()
    if types.is_list(t) or types.is_large_list(t):
        return ArrayType(_arrow_type_to_spark(t.value_type), containsNull=t.value_field.nullable)
    if types.is_struct(t):
        return StructType(
            [
                StructField(field.name, _arrow_type_to_spark(field.type), field.nullable)
                for field in t
            ]
        )
    if types.is_map(t):
        return MapType(
            _arrow_type_to_spark(t.key_type),
            _arrow_type_to_spark(t.item_type),
            valueContainsNull=t.item_field.nullable,
        )
    raise TypeError(f"no Spark type for the Arrow type {t}")


def arrow_to_spark(schema: pa.Schema) -> StructType:
    """The Spark schema of an Arrow schema, nullability included (timestamps with a time zone
    are `TimestampType`, without one `TimestampNTZType`)."""
    return StructType(
        [StructField(f.name, _arrow_type_to_spark(f.type), f.nullable) for f in schema]
    )


def _spark_type_to_arrow(t: DataType) -> pa.DataType:
    if isinstance(t, BooleanType):
        return pa.bool_()
    if isinstance(t, ByteType):
        return pa.int8()
    if isinstance(t, ShortType):
        return pa.int16()
    if isinstance(t, IntegerType):
        return pa.int32()
    if isinstance(t, LongType):
        return pa.int64()
    if isinstance(t, FloatType):
        return pa.float32()
    if isinstance(t, DoubleType):
        return pa.float64()
    if isinstance(t, DecimalType):
        return pa.decimal128(t.precision, t.scale)
    if isinstance(t, StringType):
        return pa.string()
    if isinstance(t, BinaryType):
        return pa.binary()
    if isinstance(t, DateType):
        return pa.date32()
    if isinstance(t, TimestampNTZType):
        return pa.timestamp("us")
    if isinstance(t, TimestampType):
        return pa.timestamp("us", tz="UTC")
    if isinstance(t, ArrayType):
        return pa.list_(pa.field("element", _spark_type_to_arrow(t.elementType), t.containsNull))
    if isinstance(t, StructType):
        return pa.struct([pa.field(f.name, _spark_type_to_arrow(f.dataType), f.nullable) for f in t])
    if isinstance(t, MapType):
        return pa.map_(
            _spark_type_to_arrow(t.keyType),
            pa.field("value", _spark_type_to_arrow(t.valueType), t.valueContainsNull),
        )
    raise TypeError(f"no Arrow type for the Spark type {t.simpleString()}")


def spark_to_arrow(schema: StructType) -> pa.Schema:
    """The Arrow schema Spark expects of the batches of a Python data source with this
    schema (timestamps in UTC)."""
    return pa.schema(
        [pa.field(f.name, _spark_type_to_arrow(f.dataType), f.nullable) for f in schema]
    )


def _read_options(options: Mapping[str, str]) -> Dict[str, Any]:
    """Spark's options as keyword arguments of `read`: names in lower case, integers as int."""
    out: Dict[str, Any] = {}
    for key, value in options.items():
        name = key.lower()
        if name in _OWN_OPTIONS:
            continue
        if name in _INT_OPTIONS and isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                pass  # `read` refuses it with the message the CLI gives
        out[name] = value
    return out


class CakeWindow(InputPartition):
    """One window of the plan: a Spark partition. Holds only plain values (picklable)."""

    def __init__(self, index: int, partition: Optional[str], options: Dict[str, Any]) -> None:
        super().__init__(index)
        self.index = index
        self.partition = partition
        self.options = options


class CakeDataSource(DataSource):
    """`spark.read.format("cake")`: one CAKE report, one partition per window of its plan."""

    @classmethod
    def name(cls) -> str:
        return "cake"

    def _option(self, name: str) -> Optional[str]:
        for key, value in self.options.items():
            if key.lower() == name:
                return value
        return None

    def _report(self) -> str:
        report = self._option("report") or self._option("path")
        if not report:
            raise ValueError(
                'the cake data source needs a report: .option("report", "clicks") or .load("clicks")'
            )
        return report

    def schema(self) -> StructType:
        return arrow_to_spark(pa.schema(_cc.schema(self._report())))

    def reader(self, schema: StructType) -> "CakeReader":
        report = self._report()
        native = pa.schema(_cc.schema(report))
        # The batches go to Spark as they come when the schema is the report's; a schema the
        # user gave gets its columns selected and cast.
        target = None if schema == arrow_to_spark(native) else spark_to_arrow(schema)
        return CakeReader(
            report=report,
            domain=self._option("domain"),
            api_key=self._option("api_key"),
            options=_read_options(self.options),
            target=target,
        )


class CakeReader(DataSourceReader):
    def __init__(
        self,
        *,
        report: str,
        domain: Optional[str],
        api_key: Optional[str],
        options: Dict[str, Any],
        target: Optional[pa.Schema],
    ) -> None:
        self.report = report
        self.domain = domain
        self.api_key = api_key
        self.options = options
        self.target = target

    def partitions(self) -> List[InputPartition]:
        return [
            CakeWindow(window["index"], window.get("partition"), dict(window["options"]))
            for window in _cc.plan(self.report, **self.options)
        ]

    def _connection(self) -> Dict[str, str]:
        domain = self.domain or os.environ.get("CAKE_DOMAIN")
        api_key = self.api_key or os.environ.get("CAKE_API_KEY")
        missing = [
            name
            for name, value in (("domain", domain), ("api_key", api_key))
            if not value
        ]
        if missing:
            raise ValueError(
                f"the cake data source needs {' and '.join(missing)}: .option(...) or the "
                "CAKE_DOMAIN and CAKE_API_KEY environment variables"
            )
        return {"domain": domain, "api_key": api_key}  # type: ignore[dict-item]

    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        assert isinstance(partition, CakeWindow)
        # The window's options choose its days; the others (concurrency, retries, ...) come
        # from the reader when the window does not name them.
        options = {k: v for k, v in self.options.items() if k not in _DATE_OPTIONS}
        options.update(partition.options)
        stream = _cc.read(self.report, **self._connection(), **options)
        with stream:
            for batch in stream:
                if self.target is not None:
                    batch = _conform(batch, self.target)
                yield batch


def _conform(batch: pa.RecordBatch, target: pa.Schema) -> pa.RecordBatch:
    missing = [name for name in target.names if name not in batch.schema.names]
    if missing:
        raise ValueError(f"the report has no column {', '.join(missing)}")
    columns = [batch.column(field.name).cast(field.type) for field in target]
    return pa.RecordBatch.from_arrays(columns, schema=target)
