"""The Python examples of README.md, python/README.md and docs/python.md run as written.

Each document's ```python blocks run in order in one namespace, as the cells of a notebook, in
a fresh directory. Blocks marked ```python notest (Databricks cells) are not run; a block that
imports an optional package that is not installed is skipped with the rest of its document.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = {
    "README": ROOT / "README.md",
    "python-README": ROOT / "python" / "README.md",
    "docs-python": ROOT / "docs" / "python.md",
}
BLOCK = re.compile(r"^```python([^\n]*)\n(.*?)^```", re.S | re.M)
OPTIONAL = ("polars", "duckdb", "pandas", "dlt", "pyspark", "deltalake")


def blocks(path: Path):
    text = path.read_text()
    for match in BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 2
        yield match.group(1).strip(), line, match.group(2)


def missing(code: str):
    for name in OPTIONAL:
        if re.search(rf"^\s*(import|from) {name}\b", code, re.M) and importlib.util.find_spec(name) is None:
            return name
    return None


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_examples_run(name, tmp_path, monkeypatch):
    path = DOCUMENTS[name]
    if not path.is_file():
        pytest.skip(f"{path} is not in this tree")
    monkeypatch.chdir(tmp_path)
    # dlt: no telemetry, its files under the test's directory.
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt-data"))
    monkeypatch.setenv("DLT_PROJECT_DIR", str(tmp_path))
    # Spark: loopback only, no web UI, workers on this interpreter.
    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)
    monkeypatch.setenv("PYSPARK_DRIVER_PYTHON", sys.executable)
    monkeypatch.setenv("PYSPARK_SUBMIT_ARGS", "--conf spark.ui.enabled=false pyspark-shell")
    namespace: dict = {"__name__": f"doc_{name.replace('-', '_')}"}
    ran = 0
    try:
        for tag, line, code in blocks(path):
            if "notest" in tag.split():
                continue
            absent = missing(code)
            if absent:
                pytest.skip(f"{path.name}:{line} needs {absent}")
            exec(compile(code, f"{path}:{line}", "exec"), namespace)
            ran += 1
    finally:
        stop_spark()
        stack = namespace.get("stack")
        if stack is not None:
            stack.close()
    assert ran > 0


def stop_spark() -> None:
    if "pyspark" not in sys.modules:
        return
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is not None:
        session.stop()
