#!/usr/bin/env bash
# INSi search and identity qualification with curl (and jq to read the answers).
#   SEGUR_API      the daemon (default http://127.0.0.1:8088, what `cargo run --release -- serve` starts)
#   SEGUR_API_KEY  an API key (default: the sandbox key in data/sandbox-api-key)
set -euo pipefail
API=${SEGUR_API:-http://127.0.0.1:8088}
KEY=${SEGUR_API_KEY:-$(cat data/sandbox-api-key)}
call() { # METHOD PATH [JSON]: prints the answer; fails on an HTTP error (the body says why: {code, message})
  curl -sS --fail-with-body -X "$1" -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \
       ${3:+-d "$3"} "$API$2"
}
TRAITS='{"birth_name":"ADRUN","given_names":["ZOE"],"sex":"F","birth_date":"1975-12-31","birth_place":"63220"}'

echo "INSi search: $(call POST /v1/ins/search "$TRAITS" | jq -r .outcome)"
PERSON=$(call POST /v1/persons "$TRAITS" | jq -r .id)
echo "person $PERSON"
echo "after INSi: $(call POST "/v1/persons/$PERSON/insi" '{}' | jq -r .person.status)"
echo "after the ID document: $(call POST "/v1/persons/$PERSON/identity-document" '{"kind":"passport"}' | jq -r .person.status)"
