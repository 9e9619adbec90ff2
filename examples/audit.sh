#!/usr/bin/env bash
# An auditor's monthly run: verify the new export against the issuer's pinned public key,
# prove it extends last month's audited ledger, keep the new checkpoint, and produce the
# per-team / per-cost-center reports finance asks for.
#   examples/audit.sh ledger.cbor issuer.pub.pem [audit.ckpt]
set -euo pipefail
ledger=$1 key=$2 checkpoint=${3:-audit.ckpt}
since=()
[ -f "$checkpoint" ] && since=(--since "$checkpoint")
receipt verify "$ledger" --key "$key" "${since[@]}" --save-checkpoint "$checkpoint"
receipt rollup "$ledger" --key "$key" --by team --by project --period month --format csv > by-team.csv
receipt rollup "$ledger" --key "$key" --by cost_center --currency reporting --format csv > by-cost-center.csv
echo "reports: by-team.csv by-cost-center.csv; checkpoint kept in $checkpoint"
