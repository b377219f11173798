#!/usr/bin/env bash
# POST one lead to intake's webhook with curl, signed with HMAC-SHA256 over "{timestamp}.{body}".
#
#   INTAKE_SOURCE=demo-webform INTAKE_API_KEY=demo-webform-key INTAKE_SIGNING_SECRET=... \
#     ./post_curl.sh lead.json                      INTAKE_URL=http://127.0.0.1:8001/v1/leads by default
#
# The body is sent byte for byte (--data-binary @file): the signature covers exactly those bytes.
# Note: openssl receives the secret as an argument (visible in the local process list); on a shared
# machine compute the HMAC inside your application instead (see the guide for Python).
set -euo pipefail
FILE=${1:?usage: post_curl.sh lead.json}
URL=${INTAKE_URL:-http://127.0.0.1:8001/v1/leads}
SOURCE=${INTAKE_SOURCE:?set INTAKE_SOURCE (your source system name)}
API_KEY=${INTAKE_API_KEY:?set INTAKE_API_KEY}
SECRET=${INTAKE_SIGNING_SECRET:?set INTAKE_SIGNING_SECRET}

TIMESTAMP=$(date +%s)
SIGNATURE=$( { printf '%s.' "$TIMESTAMP"; cat "$FILE"; } | openssl dgst -sha256 -hmac "$SECRET" -r | cut -d' ' -f1)

curl -sS --fail-with-body -X POST "$URL" \
  -H "Content-Type: application/json" \
  -H "X-Leadflow-Source: $SOURCE" \
  -H "X-Leadflow-Key: $API_KEY" \
  -H "X-Leadflow-Timestamp: $TIMESTAMP" \
  -H "X-Leadflow-Signature: sha256=$SIGNATURE" \
  --data-binary "@$FILE"
echo
