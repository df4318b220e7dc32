#!/bin/sh
# `make run`: the five platform simulators (weft-sim) and `weft serve` on the demo manifests in
# this folder, on the embedded store in ./data. Ctrl-C stops both.
set -eu
cd "$(dirname "$0")/.."
DATA=${WEFT_DATA:-data}
LISTEN=${WEFT_LISTEN:-127.0.0.1:8080}
ENV_FILE=target/demo.env
rm -f "$ENV_FILE"
target/debug/weft-sim --env-file "$ENV_FILE" &
SIM=$!
trap 'kill $SIM 2>/dev/null || true; wait $SIM 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM
while [ ! -f "$ENV_FILE" ]; do
    kill -0 "$SIM" 2>/dev/null || { echo "weft-sim did not start (is port 7101-7105 taken?)" >&2; exit 1; }
    sleep 0.1
done
. "./$ENV_FILE"
cat <<MSG

Weft demo: five simulated platforms (above) and weft serve on http://$LISTEN
  manifests    demo/*.toml (the production ones are in manifests/)
  admin token  $DATA/admin-token, made on the first start
  try it       README.md, "The first five minutes": one call per adapter, a job, a schedule, a reload
  the CLI      export WEFT_URL=http://$LISTEN WEFT_TOKEN_FILE=$DATA/admin-token
               then: target/debug/weft status | adapters | jobs list | schedules
  Ctrl-C stops both.

MSG
target/debug/weft --manifests demo --data "$DATA" serve --listen "$LISTEN"
