"""Airbyte and Singer: every message the binary prints validates against the Airbyte protocol.

Runs `cake-connector airbyte spec|check|discover|read` against a sandbox on 127.0.0.1 and
validates every stdout line with the protocol's published models (airbyte-protocol-models-pdv2,
installed by .ci/run); reads Clicks, Campaigns Summary and Offers, then again from the last
state (only the lookback days come back); runs the Singer tap the same way. Prints records/s of
`airbyte read` and `pull` for the same days of Clicks.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta

from airbyte_protocol.models import AirbyteMessage, Type

import cibin

KEY = "ci-platforms-key-4b1f"


def fail(text):
    print(f"platforms: {text}", file=sys.stderr)
    sys.exit(1)


def run(binary, *args):
    out = subprocess.run([binary, *args], capture_output=True, text=True, check=False)
    if KEY in out.stdout or KEY in out.stderr:
        fail(f"the key was printed by {' '.join(args)}")
    return out


def airbyte(binary, *args):
    """Runs one Airbyte command; every stdout line must be a valid AirbyteMessage."""
    out = run(binary, "airbyte", *args)
    messages = []
    for line in out.stdout.splitlines():
        try:
            messages.append(AirbyteMessage.model_validate_json(line))
        except Exception as e:  # noqa: BLE001 (the model's error names the field)
            fail(f"airbyte {args[0]}: not a valid message: {line[:200]}: {e}")
    return out, messages


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", help="the cake-connector binary (default: the debug one)")
    args = parser.parse_args()
    binary = cibin.binary(args.bin)

    work = tempfile.mkdtemp(prefix="cake-platforms-")
    sandbox = subprocess.Popen(
        [binary, "sandbox", "--port", "0", "--api-key", KEY, "--rows-per-day", "1000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = sandbox.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            fail(f"the sandbox printed {url!r} instead of its address")
        today = date.today()
        start = today - timedelta(days=2)
        config = os.path.join(work, "config.json")
        with open(config, "w") as f:
            json.dump(
                {"domain": url, "api_key": KEY, "start_date": start.isoformat(), "lookback_days": 1},
                f,
            )

        _, m = airbyte(binary, "spec")
        if [x.type for x in m] != [Type.SPEC]:
            fail("spec: not one SPEC message")
        _, m = airbyte(binary, "check", "--config", config)
        if m[0].connectionStatus.status.value != "SUCCEEDED":
            fail(f"check: {m[0]}")
        _, m = airbyte(binary, "discover", "--config", config)
        streams = m[0].catalog.streams
        if len(streams) != 37:
            fail(f"discover: {len(streams)} streams")

        catalog = os.path.join(work, "catalog.json")
        chosen = [s for s in streams if s.name in ("clicks", "campaigns-summary", "offers")]
        with open(catalog, "w") as f:
            json.dump(
                {
                    "streams": [
                        {
                            "stream": json.loads(s.model_dump_json(exclude_none=True)),
                            "sync_mode": "incremental" if s.source_defined_cursor else "full_refresh",
                            "destination_sync_mode": "append",
                        }
                        for s in chosen
                    ]
                },
                f,
            )
        out, m = airbyte(binary, "read", "--config", config, "--catalog", catalog)
        first_read = len(m)
        if out.returncode != 0:
            fail(f"read: exit {out.returncode}: {out.stderr[-500:]}")
        records = [x for x in m if x.type == Type.RECORD]
        states = [x for x in m if x.type == Type.STATE]
        by_stream = {}
        for r in records:
            by_stream.setdefault(r.record.stream, []).append(r.record.data)
        if set(by_stream) != {"clicks", "campaigns-summary", "offers"} or not states:
            fail(f"read: streams {sorted(by_stream)}, {len(states)} states")

        # The rate: Clicks alone, read, then pulled, for the same days.
        clicks_only = os.path.join(work, "clicks.json")
        with open(clicks_only, "w") as f:
            json.dump(
                {
                    "streams": [
                        {
                            "stream": json.loads(s.model_dump_json(exclude_none=True)),
                            "sync_mode": "full_refresh",
                            "destination_sync_mode": "overwrite",
                        }
                        for s in chosen
                        if s.name == "clicks"
                    ]
                },
                f,
            )
        began = time.monotonic()
        out = run(binary, "airbyte", "read", "--config", config, "--catalog", clicks_only)
        read_seconds = time.monotonic() - began
        clicks = out.stdout.count('"type":"RECORD"')
        lake = os.path.join(work, "lake")
        began = time.monotonic()
        p = run(binary, "pull", "clicks", "--start", start.isoformat(), "--end", today.isoformat(),
                "--domain", url, "--api-key-file", write_key(work), "--out", lake, "-q")
        pull_seconds = time.monotonic() - began
        if p.returncode != 0 or out.returncode != 0:
            fail(f"pull: {p.stderr[-500:]}; read: {out.stderr[-500:]}")

        # From the last state: only the lookback day and after.
        state = os.path.join(work, "state.json")
        last = {}
        for s in states:
            last[s.state.stream.stream_descriptor.name] = json.loads(s.state.model_dump_json(exclude_none=True))
        with open(state, "w") as f:
            json.dump(list(last.values()), f)
        _, m = airbyte(binary, "read", "--config", config, "--catalog", catalog, "--state", state)
        days = {x.record.data["date"] for x in m if x.type == Type.RECORD and x.record.stream == "clicks"}
        want = {(today - timedelta(days=1)).isoformat(), today.isoformat()}
        if days != want:
            fail(f"read from the state: clicks days {sorted(days)}, expected {sorted(want)}")

        # Singer: SCHEMA before RECORD, bookmarks in STATE.
        out = run(binary, "singer", "--config", config, "--discover")
        singer_catalog = json.loads(out.stdout)
        for s in singer_catalog["streams"]:
            if s["tap_stream_id"] == "clicks":
                s["metadata"][0]["metadata"]["selected"] = True
        with open(catalog, "w") as f:
            json.dump(singer_catalog, f)
        out = run(binary, "singer", "--config", config, "--catalog", catalog)
        kinds = [json.loads(line)["type"] for line in out.stdout.splitlines()]
        if out.returncode != 0 or kinds[0] != "SCHEMA" or "RECORD" not in kinds or kinds[-1] != "STATE":
            fail(f"singer: exit {out.returncode}, messages {kinds[:3]}...{kinds[-2:]}")

        print(
            f"airbyte: spec, check, discover and {first_read} messages of read valid; "
            f"Clicks, {clicks} rows over the same days: airbyte read {read_seconds:.2f} s "
            f"({clicks / read_seconds:,.0f} records/s), pull {pull_seconds:.2f} s "
            f"({clicks / pull_seconds:,.0f} rows/s)"
        )
        print(f"singer: {kinds.count('RECORD')} records, {kinds.count('STATE')} states")
    finally:
        sandbox.terminate()
        sandbox.wait()
        shutil.rmtree(work, ignore_errors=True)


def write_key(work):
    path = os.path.join(work, "key")
    with open(path, "w") as f:
        f.write(KEY)
    return path


if __name__ == "__main__":
    main()
