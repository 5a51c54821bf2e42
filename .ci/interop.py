#!/usr/bin/env python3
"""Interoperability check: other engines read the connector's output as the catalog describes it.

1. Runs `cake-connector demo` (every report from the embedded sandbox) into a temporary
   directory, then for every report of `cake-connector reports --json`:
   - sums the rows of its `_SUCCESS` manifests (and checks each file's size and SHA-256),
   - reads it with pyarrow (`pyarrow.dataset`, hive partitioning) and with DuckDB
     (`read_parquet(..., hive_partitioning = true)`),
   - checks both row counts against the manifests (and > 0 where the demo printed rows),
   - checks every column's type against `describe <report> --json`, with `date` as the hive
     partition column of dated reports.
2. Starts moto (an S3-compatible server) and a sandbox on 127.0.0.1, pulls Clicks (2 days) and
   Offers into s3://interop/lake with the binary, reads both back with pyarrow's S3FileSystem
   (hive partitioning) and queries them with DuckDB.
3. Delta Lake (`--format delta`): runs the demo again in Delta format, twice (the rerun
   replaces every window), and pulls Clicks (twice) and Offers into s3://interop/delta on moto;
   reads every table with the `deltalake` package (delta-rs) and with Polars, and checks that
   the rows and types equal the Parquet output of the same pull, that a rerun replaced rather
   than added, and that time travel to version 0 gives the first commit's rows only.
   (DuckDB's `delta` extension is not checked: it is downloaded from DuckDB's own extension
   server, and the PyPI package of it is built for DuckDB 1.5, not the 2.0 used here; Spark
   needs the Delta jars from Maven. Neither registry is reachable from CI.)

Prints tables and exits non-zero on any mismatch. Needs duckdb, pyarrow, deltalake and polars
(and moto_server for the S3 half: $CAKE_MOTO_SERVER, .venv/bin/moto_server, or PATH).
"""

import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import deltalake
import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs

import cibin

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEY = "interop-key-3b1f9c"
BUCKET = "interop"

# The hive partition column of dated reports, declared: pyarrow would otherwise infer it as a
# string, which clashes with a report's own `date` column (Daily Summary has one, Date32).
DATE_PARTITIONING = ds.partitioning(pa.schema([("date", pa.date32())]), flavor="hive")

problems = []


def problem(text):
    problems.append(text)
    print(f"MISMATCH: {text}", flush=True)


def run(binary, *args, env=None):
    out = subprocess.run(
        [binary, *args], capture_output=True, text=True, env=env, check=False
    )
    if out.returncode != 0:
        sys.exit(
            f"`cake-connector {' '.join(args)}` failed with {out.returncode}:\n{out.stderr}"
        )
    return out.stdout


def arrow_type(text):
    """The pyarrow type of a catalog type as `describe --json` writes it."""
    simple = {
        "Int32": pa.int32(),
        "Int64": pa.int64(),
        "Utf8": pa.string(),
        "Boolean": pa.bool_(),
        "Date32": pa.date32(),
        'Timestamp(µs, "UTC")': pa.timestamp("us", tz="UTC"),
    }
    if text in simple:
        return simple[text]
    m = re.fullmatch(r"Decimal128\((\d+), (\d+)\)", text)
    if m:
        return pa.decimal128(int(m.group(1)), int(m.group(2)))
    m = re.fullmatch(r"List\((.+)\)", text)
    if m:
        return pa.list_(arrow_type(m.group(1)))
    raise ValueError(f"unknown catalog type {text!r}")


def column_type(column):
    """The pyarrow type of a column of `describe --json`: a `List<Struct>` column from its
    `fields`, nested as deep as they go."""
    if "fields" in column:
        return pa.list_(
            pa.struct(
                [
                    pa.field(f["name"], column_type(f), nullable=f["nullable"])
                    for f in column["fields"]
                ]
            )
        )
    return arrow_type(column["type"])


def duckdb_type(t):
    """DuckDB's name for a pyarrow type."""
    if pa.types.is_int32(t):
        return "INTEGER"
    if pa.types.is_int64(t):
        return "BIGINT"
    if pa.types.is_string(t):
        return "VARCHAR"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_date32(t):
        return "DATE"
    if pa.types.is_timestamp(t):
        return "TIMESTAMP WITH TIME ZONE"
    if pa.types.is_decimal(t):
        return f"DECIMAL({t.precision},{t.scale})"
    if pa.types.is_list(t):
        return duckdb_type(t.value_type) + "[]"
    if pa.types.is_struct(t):
        fields = ", ".join(f"{f.name} {duckdb_type(f.type)}" for f in t)
        return f"STRUCT({fields})"
    raise ValueError(f"no DuckDB name for {t}")


def expected_columns(describe):
    cols = {c["name"]: column_type(c) for c in describe["columns"]}
    if describe["dated"]:
        if "date" in cols:
            problem(f"{describe['id']}: a column named `date` clashes with the partition column")
        cols["date"] = pa.date32()
    return cols


def polars_type(t):
    """Polars' dtype for a pyarrow type of the catalog."""
    if pa.types.is_int32(t):
        return pl.Int32
    if pa.types.is_int64(t):
        return pl.Int64
    if pa.types.is_string(t):
        return pl.String
    if pa.types.is_boolean(t):
        return pl.Boolean
    if pa.types.is_date32(t):
        return pl.Date
    if pa.types.is_timestamp(t):
        return pl.Datetime("us", "UTC")
    if pa.types.is_decimal(t):
        return pl.Decimal(t.precision, t.scale)
    if pa.types.is_list(t):
        return pl.List(polars_type(t.value_type))
    if pa.types.is_struct(t):
        return pl.Struct({f.name: polars_type(f.type) for f in t})
    raise ValueError(f"no Polars dtype for {t}")


def canonical(table, schema):
    """`table` with `schema`'s columns and types, its rows sorted, for comparing content."""
    table = table.select(schema.names).cast(schema)
    keys = [(f.name, "ascending") for f in schema if not pa.types.is_list(f.type)]
    return table.sort_by(keys).combine_chunks()


def same_rows(a, b, schema):
    return canonical(a, schema).equals(canonical(b, schema))


def check_delta(label, uri, parquet, want, storage_options=None, reran=True):
    """Reads the Delta table at `uri` with deltalake and Polars and compares it with `parquet`
    (the pyarrow table of the same pull in Parquet format). Returns a row of the Delta table."""
    opts = storage_options or {}
    dt = deltalake.DeltaTable(uri, storage_options=opts)
    version = dt.version()
    delta = dt.to_pyarrow_table()
    df = pl.read_delta(uri, storage_options=opts or None)
    ok = check_types(label, "deltalake", {f.name: f.type for f in delta.schema}, want)
    ok &= check_types(
        label, "polars", dict(df.schema), {k: polars_type(v) for k, v in want.items()}
    )
    protocol = dt.protocol()
    if protocol.min_reader_version > 3 or protocol.reader_features:
        problem(f"{label}: reader protocol {protocol}")
        ok = False
    for engine, t in (("deltalake", delta), ("polars", df.to_arrow())):
        if t.num_rows != parquet.num_rows or not same_rows(t, parquet, parquet.schema):
            problem(f"{label} ({engine}): {t.num_rows} rows differ from the Parquet output's {parquet.num_rows}")
            ok = False
    # The history: version 0 is the first commit (one window, or the snapshot) alone.
    first = deltalake.DeltaTable(uri, version=0, storage_options=opts).to_pyarrow_table()
    first_polars = pl.read_delta(uri, version=0, storage_options=opts or None).to_arrow()
    if "date" in parquet.column_names and first.num_rows:
        days = set(first.column("date").to_pylist())
        expected = parquet.filter(pc.is_in(parquet["date"], pa.array(sorted(days))))
        if len(days) != 1:
            problem(f"{label}: version 0 holds the days {sorted(days)}, not one window")
            ok = False
    else:
        expected = parquet
    if not same_rows(first, expected, parquet.schema) or not same_rows(
        first_polars, expected, parquet.schema
    ):
        problem(f"{label}: version 0 reads {first.num_rows} rows, its window has {expected.num_rows}")
        ok = False
    history = dt.history()
    operations = [h.get("operation") for h in history]
    if reran and version < 1:
        problem(f"{label}: a rerun should have added versions, the table is at {version}")
        ok = False
    if "CREATE TABLE" not in operations:
        problem(f"{label}: no CREATE TABLE in the history {operations}")
        ok = False
    return (label, version, parquet.num_rows, delta.num_rows, df.height, first.num_rows, "ok" if ok else "MISMATCH")


def check_types(report, engine, got, want):
    """got, want: {column: type} (pyarrow types, or DuckDB names)."""
    if list(got) != list(want) and set(got) != set(want):
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        problem(f"{report} ({engine}): columns differ; missing {missing}, extra {extra}")
        return False
    ok = True
    for name, t in want.items():
        if got[name] != t:
            problem(f"{report} ({engine}): column {name} is {got[name]}, the catalog says {t}")
            ok = False
    return ok


def manifests_local(table_dir, dated):
    """Rows of every committed partition, checking each file against its manifest."""
    pattern = "date=*/_SUCCESS" if dated else "_SUCCESS"
    rows = 0
    paths = sorted(glob.glob(os.path.join(table_dir, pattern)))
    for path in paths:
        with open(path, "rb") as f:
            manifest = json.load(f)
        rows += manifest["rows"]
        for entry in manifest["files"]:
            with open(os.path.join(os.path.dirname(path), entry["name"]), "rb") as f:
                data = f.read()
            if len(data) != entry["bytes"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
                problem(f"{path}: {entry['name']} does not match its manifest")
    return rows, len(paths)


def demo_rows(stdout):
    """REPORT ROWS COLUMNS OUTPUT table printed by the demo."""
    rows = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[1].isdigit():
            rows[parts[0]] = int(parts[1])
    return rows


def check_local(binary, work, reports, describes):
    out_dir = os.path.join(work, "demo")
    printed = demo_rows(run(binary, "demo", "--out", out_dir))
    con = duckdb.connect()
    table = []
    for r in reports:
        rid, dated = r["id"], r["dated"]
        describe = describes[rid]
        table_dir = os.path.join(out_dir, rid)
        manifest_rows, partitions = manifests_local(table_dir, dated)
        if partitions == 0:
            problem(f"{rid}: no committed partition under {table_dir}")
            continue
        if rid not in printed:
            problem(f"{rid}: the demo did not print it")
        elif printed[rid] != manifest_rows:
            problem(f"{rid}: the demo printed {printed[rid]} rows, the manifests say {manifest_rows}")
        if printed.get(rid, 0) > 0 and manifest_rows == 0:
            problem(f"{rid}: no rows")

        dataset = ds.dataset(
            table_dir,
            format="parquet",
            partitioning=DATE_PARTITIONING if dated else None,
        )
        pa_rows = dataset.count_rows()
        want = expected_columns(describe)
        pa_types = check_types(rid, "pyarrow", {f.name: f.type for f in dataset.schema}, want)

        # The right glob per layout: one level of partitions, or the files of a snapshot.
        if dated:
            pattern = os.path.join(table_dir, "*", "*.parquet")
        else:
            pattern = os.path.join(table_dir, "*.parquet")
        source = f"read_parquet('{pattern}', hive_partitioning = true)"
        duck_rows = con.sql(f"SELECT count(*) FROM {source}").fetchall()[0][0]
        duck_cols = {row[0]: row[1] for row in con.sql(f"DESCRIBE SELECT * FROM {source}").fetchall()}
        duck_types = check_types(
            rid, "duckdb", duck_cols, {k: duckdb_type(v) for k, v in want.items()}
        )
        for engine, n in (("pyarrow", pa_rows), ("duckdb", duck_rows)):
            if n != manifest_rows:
                problem(f"{rid}: {engine} reads {n} rows, the manifests say {manifest_rows}")
        table.append(
            (
                rid,
                "date=*/" if dated else "snapshot",
                partitions,
                manifest_rows,
                pa_rows,
                duck_rows,
                "ok" if pa_types and duck_types else "MISMATCH",
            )
        )
    return table


def check_nested(work):
    """The nested columns of Offers (contracts, their countries, tiers) read by DuckDB with the
    `unnest` the docs show, and by pyarrow: the same items, leaf for leaf."""
    table_dir = os.path.join(work, "demo", "offers")
    source = f"read_parquet('{os.path.join(table_dir, '*.parquet')}')"
    con = duckdb.connect()
    contracts = con.sql(
        f"SELECT o.offer_id, c.offer_contract_id, c.payout_amount "
        f"FROM (SELECT offer_id, unnest(offer_contracts) AS c FROM {source}) AS o"
    ).fetchall()
    countries = con.sql(
        f"SELECT c.offer_contract_id, unnest(c.allowed_countries).country_code "
        f"FROM (SELECT unnest(offer_contracts) AS c FROM {source})"
    ).fetchall()
    table = ds.dataset(table_dir, format="parquet").to_table()
    flat = pc.list_flatten(table["offer_contracts"])
    pa_countries = pc.list_flatten(pc.struct_field(flat, "allowed_countries"))
    if len(contracts) != len(flat) or len(contracts) == 0:
        problem(f"offers: DuckDB unnests {len(contracts)} contracts, pyarrow {len(flat)}")
    if len(countries) != len(pa_countries) or len(countries) == 0:
        problem(
            f"offers: DuckDB unnests {len(countries)} allowed countries, pyarrow {len(pa_countries)}"
        )
    duck_codes = sorted(code for _, code in countries if code is not None)
    pa_codes = sorted(c for c in pc.struct_field(pa_countries, "country_code").to_pylist() if c)
    if duck_codes != pa_codes:
        problem("offers: the country codes DuckDB and pyarrow read differ")
    return len(contracts), len(countries)


def check_local_delta(binary, work, reports, describes):
    """The demo in Delta format, twice, against the Parquet demo of `check_local`."""
    out_dir = os.path.join(work, "demo-delta")
    for _ in range(2):
        printed = demo_rows(run(binary, "demo", "--out", out_dir, "--format", "delta"))
    table = []
    for r in reports:
        rid, dated = r["id"], r["dated"]
        want = expected_columns(describes[rid])
        parquet = ds.dataset(
            os.path.join(work, "demo", rid),
            format="parquet",
            partitioning=DATE_PARTITIONING if dated else None,
        ).to_table()
        row = check_delta(f"delta:{rid}", os.path.join(out_dir, rid), parquet, want)
        if printed.get(rid) != row[3]:
            problem(f"delta:{rid}: the demo printed {printed.get(rid)} rows, deltalake reads {row[3]}")
        if os.path.exists(os.path.join(out_dir, rid, "_SUCCESS")) or glob.glob(
            os.path.join(out_dir, rid, "*", "_SUCCESS")
        ):
            problem(f"delta:{rid}: a Delta table has _SUCCESS manifests")
        table.append(row)
    return table


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def moto_binary():
    candidates = [
        os.environ.get("CAKE_MOTO_SERVER"),
        os.path.join(ROOT, ".venv", "bin", "moto_server"),
        shutil.which("moto_server"),
    ]
    for c in candidates:
        if c and os.path.isfile(c):
            return c
    return None


def wait_http(url, seconds=60):
    deadline = time.time() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except Exception:
            if time.time() > deadline:
                raise
            time.sleep(0.1)


def check_s3(binary, describes):
    moto = moto_binary()
    if moto is None:
        if os.environ.get("CI"):
            problem("moto_server is not installed, so the S3 half cannot run")
        else:
            print("SKIPPED the S3 half: no moto_server (set CAKE_MOTO_SERVER or create .venv)")
        return [], []
    port = free_port()
    procs = []
    try:
        procs.append(
            subprocess.Popen(
                [moto, "-H", "127.0.0.1", "-p", str(port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        endpoint = f"http://127.0.0.1:{port}"
        wait_http(endpoint + "/")
        req = urllib.request.Request(f"{endpoint}/{BUCKET}", method="PUT")
        urllib.request.urlopen(req, timeout=10).read()

        sandbox = subprocess.Popen(
            [binary, "sandbox", "--port", "0", "--api-key", KEY],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        procs.append(sandbox)
        url = sandbox.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            problem(f"the sandbox printed {url!r} instead of its address")
            return [], []

        env = dict(os.environ)
        env.update(
            {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_REGION": "us-east-1",
                "CAKE_API_KEY": KEY,
                "CAKE_DOMAIN": url,
            }
        )
        location = f"s3://{BUCKET}/lake"
        pulled = {}
        for rid, extra in (("clicks", ["--past-days", "2"]), ("offers", [])):
            stdout = run(binary, "pull", rid, *extra, "--out", location, env=env)
            m = re.match(rf"{rid}: (\d+) rows in (\d+) window", stdout)
            if not m:
                problem(f"pull {rid} to S3 printed {stdout!r}")
                continue
            pulled[rid] = (int(m.group(1)), int(m.group(2)))

        fs = pafs.S3FileSystem(
            access_key="test",
            secret_key="test",
            region="us-east-1",
            endpoint_override=f"127.0.0.1:{port}",
            scheme="http",
        )
        con = duckdb.connect()
        table = []
        for rid, (rows, windows) in pulled.items():
            dated = describes[rid]["dated"]
            base = f"{BUCKET}/lake/{rid}"
            selector = pafs.FileSelector(base, recursive=True)
            infos = [i for i in fs.get_file_info(selector) if i.type == pafs.FileType.File]
            names = sorted(i.path[len(base) + 1 :] for i in infos)
            manifests = [n for n in names if n.endswith("_SUCCESS")]
            parts = [n for n in names if n.endswith(".parquet")]
            # The table's contract (`_table.json`) sits at the table's root.
            expected_layout = (
                all(re.fullmatch(r"_table\.json|date=\d{4}-\d{2}-\d{2}/(_SUCCESS|part-\d{5}\.parquet)", n) for n in names)
                if dated
                else all(re.fullmatch(r"_table\.json|_SUCCESS|part-\d{5}\.parquet", n) for n in names)
            )
            if not expected_layout or len(manifests) != windows or not parts:
                problem(f"{rid} on S3: unexpected layout {names}")
            manifest_rows = 0
            for m in manifests:
                with fs.open_input_stream(f"{base}/{m}") as f:
                    manifest_rows += json.load(f)["rows"]
            if manifest_rows != rows:
                problem(f"{rid} on S3: the pull printed {rows} rows, the manifests say {manifest_rows}")
            dataset = ds.dataset(
                base,
                filesystem=fs,
                format="parquet",
                partitioning=DATE_PARTITIONING if dated else None,
            )
            pa_rows = dataset.count_rows()
            want = expected_columns(describes[rid])
            types_ok = check_types(
                rid + " on S3", "pyarrow", {f.name: f.type for f in dataset.schema}, want
            )
            # DuckDB queries the pyarrow dataset (no network extension needed).
            con.register("t", dataset)
            duck_rows = con.sql("SELECT count(*) FROM t").fetchall()[0][0]
            if dated:
                per_day = con.sql("SELECT date, count(*) FROM t GROUP BY date ORDER BY date").fetchall()
                if len(per_day) != windows or sum(n for _, n in per_day) != rows:
                    problem(f"{rid} on S3: DuckDB groups {per_day}")
            con.unregister("t")
            for engine, n in (("pyarrow", pa_rows), ("duckdb", duck_rows)):
                if n != rows or rows == 0:
                    problem(f"{rid} on S3: {engine} reads {n} rows, the pull wrote {rows}")
            table.append(
                (
                    f"s3:{rid}",
                    "date=*/" if dated else "snapshot",
                    len(manifests),
                    manifest_rows,
                    pa_rows,
                    duck_rows,
                    "ok" if types_ok else "MISMATCH",
                )
            )

        # The same pulls in Delta format (Clicks twice: the rerun replaces its windows).
        delta_location = f"s3://{BUCKET}/delta"
        storage = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        }
        delta_table = []
        for rid, extra, times in (("clicks", ["--past-days", "2"], 2), ("offers", [], 1)):
            if rid not in pulled:
                continue
            for _ in range(times):
                run(binary, "pull", rid, *extra, "--out", delta_location, "--format", "delta", env=env)
            dated = describes[rid]["dated"]
            parquet = ds.dataset(
                f"{BUCKET}/lake/{rid}",
                filesystem=fs,
                format="parquet",
                partitioning=DATE_PARTITIONING if dated else None,
            ).to_table()
            delta_table.append(
                check_delta(
                    f"s3:delta:{rid}",
                    f"{delta_location}/{rid}",
                    parquet,
                    expected_columns(describes[rid]),
                    storage_options=storage,
                    reran=times > 1,
                )
            )
        return table, delta_table
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bin",
        help="the cake-connector binary (default: the debug one, which the tests built)",
    )
    args = parser.parse_args()
    binary = cibin.binary(args.bin)
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

    reports = json.loads(run(binary, "reports", "--json"))
    describes = {r["id"]: json.loads(run(binary, "describe", r["id"], "--json")) for r in reports}
    work = tempfile.mkdtemp(prefix="cake-interop-")
    try:
        table = check_local(binary, work, reports, describes)
        contracts, countries = check_nested(work)
        print(f"offers: DuckDB and pyarrow unnest {contracts} contracts, {countries} allowed countries")
        delta_table = check_local_delta(binary, work, reports, describes)
        s3_table, s3_delta_table = check_s3(binary, describes)
        table += s3_table
        delta_table += s3_delta_table
    finally:
        shutil.rmtree(work, ignore_errors=True)

    header = ("REPORT", "LAYOUT", "PARTS", "MANIFEST", "PYARROW", "DUCKDB", "TYPES")
    widths = [max(len(str(row[i])) for row in table + [header]) for i in range(len(header))]
    for row in [header] + table:
        print("  ".join(str(v).ljust(w) if i < 2 else str(v).rjust(w) for i, (v, w) in enumerate(zip(row, widths))))
    print()
    header = ("DELTA TABLE", "VERSION", "PARQUET", "DELTALAKE", "POLARS", "V0 ROWS", "CHECK")
    widths = [max(len(str(row[i])) for row in delta_table + [header]) for i in range(len(header))]
    for row in [header] + delta_table:
        print("  ".join(str(v).ljust(w) if i < 1 else str(v).rjust(w) for i, (v, w) in enumerate(zip(row, widths))))
    print(
        f"\n{len(table)} outputs read by pyarrow {pa.__version__} and DuckDB {duckdb.__version__}, "
        f"{len(delta_table)} Delta tables by deltalake {deltalake.__version__} and Polars {pl.__version__}: "
        f"{len(problems)} mismatch(es)"
    )
    return 1 if problems or not table or not delta_table else 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Straight out, without the interpreter's finalization: a thread of the deltalake package
    # (1.6) is sometimes still running then and the process aborts ("terminate called without
    # an active exception") after every check passed.
    os._exit(code)
