"""The PySpark data source: one partition per window, the rows and types `pull` writes."""

from __future__ import annotations

import os
import sys

import pytest

pyspark = pytest.importorskip("pyspark")

import pyarrow as pa  # noqa: E402
from pyspark.sql import SparkSession  # noqa: E402
from pyspark.sql.types import LongType, StructField, StructType, TimestampType  # noqa: E402

import cake_connector as cc  # noqa: E402
from cake_connector.spark import CakeDataSource, arrow_to_spark  # noqa: E402
from conftest import TODAY, assert_same_rows, day, read_pulled  # noqa: E402

FIRST, LAST = day(8), day(3)  # six days


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    # Spark's Python workers run `python -m pyspark.daemon`, which puts their working directory
    # first on the path: started from `python/`, they would import the source tree (without
    # its native module) instead of the installed package. They start elsewhere.
    home = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("spark"))
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("cake-connector-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    session.dataSource.register(CakeDataSource)
    try:
        yield session
    finally:
        session.stop()
        os.chdir(home)


@pytest.fixture(scope="module")
def sandbox():
    with cc.sandbox(rows_per_day=20, today=TODAY) as sb:
        yield sb


def cake(spark, sb):
    return spark.read.format("cake").option("domain", sb.domain).option("api_key", sb.api_key)


def as_pulled(df, pulled: pa.Table) -> pa.Table:
    """The DataFrame's rows as Arrow, in the pulled table's types."""
    return df.toArrow().select(pulled.column_names).cast(pulled.schema)


def test_clicks_over_six_windows(spark, sandbox, tmp_path):
    df = (
        cake(spark, sandbox)
        .option("report", "clicks")
        .option("START", FIRST)  # option names are case-insensitive
        .option("end", LAST)
        .option("page_size", "7")
        .load()
    )
    assert df.rdd.getNumPartitions() == 6
    native = pa.schema(cc.schema("clicks"))
    assert df.schema == arrow_to_spark(native)
    assert df.schema["click_id"].nullable is False
    assert isinstance(df.schema["click_date"].dataType, TimestampType)
    # The schema Spark hands back to the reader is the report's: batches pass as they are.
    assert CakeDataSource({"report": "clicks"}).reader(df.schema).target is None

    cc.pull("clicks", out=str(tmp_path), domain=sandbox.domain, api_key=sandbox.api_key, start=FIRST, end=LAST)
    pulled = read_pulled(tmp_path / "clicks")
    assert pulled.num_rows == 6 * 20
    assert_same_rows(as_pulled(df, pulled), pulled, ["click_id"])


def test_nested_columns(spark, sandbox, tmp_path):
    df = cake(spark, sandbox).load("offers")  # the report as the path
    assert df.rdd.getNumPartitions() == 1
    assert df.schema == arrow_to_spark(pa.schema(cc.schema("offers")))
    cc.pull("offers", out=str(tmp_path), domain=sandbox.domain, api_key=sandbox.api_key)
    pulled = read_pulled(tmp_path / "offers")
    assert_same_rows(as_pulled(df, pulled), pulled, ["offer_id"])
    countries = df.selectExpr("explode(offer_contracts) AS c").selectExpr("c.offer_contract_id").count()
    assert countries >= 12


def test_a_schema_of_some_columns(spark, sandbox):
    schema = StructType(
        [StructField("click_date", TimestampType(), True), StructField("click_id", LongType(), False)]
    )
    df = cake(spark, sandbox).schema(schema).option("report", "clicks").option("date", LAST).load()
    rows = df.collect()
    assert len(rows) == 20
    assert all(row.click_id > 0 and row.click_date is not None for row in rows)


def test_spark_sql_over_the_source(spark, sandbox):
    df = cake(spark, sandbox).option("report", "clicks").option("start", day(5)).option("end", day(3)).load()
    df.createOrReplaceTempView("some_clicks")
    rows = spark.sql(
        "SELECT to_date(click_date) AS day, count(DISTINCT click_id) AS clicks "
        "FROM some_clicks GROUP BY 1 ORDER BY 1"
    ).collect()
    assert [(row.day.isoformat(), row.clicks) for row in rows] == [(day(n), 20) for n in (5, 4, 3)]
