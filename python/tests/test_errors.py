"""Failures raise the classes of `cake_connector.errors`, with the messages the CLI prints."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

import cake_connector as cc
from conftest import TODAY, day


@pytest.fixture(scope="module")
def sandbox():
    with cc.sandbox(rows_per_day=20, today=TODAY) as sb:
        yield sb


def drain(stream) -> int:
    rows = 0
    with stream:
        for batch in stream:
            rows += batch.num_rows
    return rows


def test_the_hierarchy():
    for name in (
        "ConfigError",
        "AuthError",
        "UnknownHostError",
        "ConnectError",
        "TlsError",
        "CakeTimeoutError",
        "NotCakeError",
        "IncompleteWindowError",
        "RejectedError",
        "ThrottledError",
        "DriftError",
        "OutputError",
        "StoppedError",
        "InternalError",
    ):
        assert issubclass(getattr(cc, name), cc.CakeError), name
        assert getattr(cc.errors, name) is getattr(cc, name)
    assert issubclass(cc.CakeError, Exception)
    assert issubclass(cc.CakeTimeoutError, TimeoutError)


def test_a_refused_key(sandbox):
    with pytest.raises(cc.AuthError) as raised:
        drain(cc.read("clicks", domain=sandbox.domain, api_key="not-the-key", date=day(3)))
    assert isinstance(raised.value, cc.CakeError)
    assert isinstance(raised.value.kind, str) and raised.value.kind
    assert "not-the-key" not in str(raised.value)


def test_an_unknown_option_is_named(sandbox):
    with pytest.raises(cc.ConfigError) as raised:
        cc.read("clicks", domain=sandbox.domain, api_key=sandbox.api_key, date=day(3), colour="blue")
    assert "colour" in str(raised.value)
    with pytest.raises(cc.ConfigError) as raised:
        cc.plan("clicks", date=day(3), colour="blue")
    assert "colour" in str(raised.value)


def test_an_option_the_report_does_not_take(sandbox):
    with pytest.raises(cc.ConfigError) as raised:
        cc.read("currencies", domain=sandbox.domain, api_key=sandbox.api_key, offer_id=3)
    assert "offer" in str(raised.value).lower()


def test_an_unknown_report(sandbox):
    with pytest.raises(cc.ConfigError):
        cc.read("no-such-report", domain=sandbox.domain, api_key=sandbox.api_key)
    with pytest.raises(cc.ConfigError):
        cc.describe("no-such-report")
    with pytest.raises(cc.ConfigError):
        cc.schema("no-such-report")
    with pytest.raises(cc.ConfigError):
        cc.plan("no-such-report")


# 20 rows in pages of 7: pages 1, 2 and 3, page 2 in the middle.
@pytest.mark.parametrize(
    "hostile, message",
    [
        ("short-middle-page=3", r"page 2 of 3 held 4 rows where 7 were due \(row_limit 7, row_count 20\)"),
        ("repeat-row", r"the key click_id = \d+ appears twice"),
    ],
)
def test_an_inconsistent_window(hostile, message, tmp_path):
    options = ["--date", day(3), "--page-size", "7", "--concurrency", "1", "--retries", "1"]
    with cc.sandbox(rows_per_day=20, today=TODAY, hostile=[hostile]) as sb:
        with pytest.raises(cc.IncompleteWindowError) as raised:
            drain(
                cc.read(
                    "clicks",
                    domain=sb.domain,
                    api_key=sb.api_key,
                    date=day(3),
                    page_size=7,
                    concurrency=1,
                    retries=1,
                )
            )
        assert isinstance(raised.value, cc.CakeError)
        assert re.search(message, str(raised.value)), str(raised.value)

        binary = os.environ.get("CAKE_CONNECTOR_BIN")
        if not binary:
            return
        # The CLI's error line says the same.
        cli = subprocess.run(
            [binary, "pull", "clicks", *options, "--out", str(tmp_path), "--domain", sb.domain],
            env={**os.environ, "CAKE_API_KEY": sb.api_key, "COLUMNS": "10000"},
            capture_output=True,
            text=True,
            timeout=120,
            cwd=Path(tmp_path),
        )
    assert cli.returncode == 8, cli.stderr
    said = " ".join(cli.stderr.split())
    assert " ".join(str(raised.value).split()) in said, (str(raised.value), cli.stderr)


def test_a_failing_window_after_a_good_one():
    """Windows are handed out whole, in order: the rows of the first window, then the error of
    the second (one of its rows is dated in the first), none of its rows."""
    with cc.sandbox(rows_per_day=20, today=TODAY, hostile=[f"row-dated={day(4)}T10:00:00"]) as sb:
        stream = cc.read(
            "clicks", domain=sb.domain, api_key=sb.api_key, start=day(4), end=day(3), concurrency=1
        )
        rows = 0
        with pytest.raises(cc.IncompleteWindowError) as raised:
            with stream:
                for batch in stream:
                    rows += batch.num_rows
    assert rows == 20
    assert day(3) in str(raised.value)
