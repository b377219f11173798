#!/usr/bin/env bash
# Publish one lead to leads.inbound with kcat (Debian/Ubuntu: apt-get install kcat).
#
#   ./publish_kcat.sh lead.json [KEY]        BOOTSTRAP=127.0.0.1:19092 TOPIC=leads.inbound by default
#
# The file is sent as ONE message, byte for byte (kcat -P with a file argument), keyed by KEY or,
# without it, by the file's lead_id; header content-type: application/json.
set -euo pipefail
FILE=${1:?usage: publish_kcat.sh lead.json [key]}
BOOTSTRAP=${BOOTSTRAP:-127.0.0.1:19092}
TOPIC=${TOPIC:-leads.inbound}
KEY=${2:-$(sed -n 's/.*"lead_id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$FILE" | head -n 1)}
if [[ -z "$KEY" ]]; then
  echo "error: no key given and no lead_id in $FILE" >&2
  exit 2
fi
kcat -P -b "$BOOTSTRAP" -t "$TOPIC" -k "$KEY" -H "content-type=application/json" \
  -X acks=all -X enable.idempotence=false "$FILE"
echo "published $KEY to $TOPIC"
