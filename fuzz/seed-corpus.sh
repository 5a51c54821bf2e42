#!/usr/bin/env bash
# Seeds fuzz/corpus/decode with the response and error fixtures. The decode target reads its
# first byte as the report's index in the catalog and its second as the chunking, so each
# fixture is written with both in front (twice, with two chunkings).
set -euo pipefail
cd "$(dirname "$0")/.."
out=fuzz/corpus/decode
mkdir -p "$out"
byte() { printf "\\$(printf %03o "$1")"; }
ids=$(cargo run --quiet -p cake-connector -- reports | awk 'NR > 1 && /^[a-z]/ { print $1 }')
i=0
clicks=0
for id in $ids; do
  [ "$id" = clicks ] && clicks=$i
  for f in fixtures/responses/"$id"/*.xml; do
    [ -e "$f" ] || continue
    for c in 0 7; do
      { byte "$i"; byte "$c"; cat "$f"; } >"$out/$id-$(basename "$f" .xml)-$c"
    done
  done
  i=$((i + 1))
done
for f in fixtures/errors/*; do
  { byte "$clicks"; byte 3; cat "$f"; } >"$out/errors-$(basename "$f")"
done
echo "$(ls "$out" | wc -l) inputs in $out"
