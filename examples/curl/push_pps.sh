#!/usr/bin/env bash
# A qualified person's PPS pushed to the DMP with curl + jq: PPS → TD0.2 → ITI-41 job polled until done.
#   SEGUR_API, SEGUR_API_KEY: as in ins_search.sh. Run from the repository (reads scenarios/data/pps-body.json).
set -euo pipefail
API=${SEGUR_API:-http://127.0.0.1:8088}
KEY=${SEGUR_API_KEY:-$(cat data/sandbox-api-key)}
call() {
  curl -sS --fail-with-body -X "$1" -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \
       ${3:+-d "$3"} "$API$2"
}
TRAITS='{"birth_name":"ADRUN","given_names":["ZOE"],"sex":"F","birth_date":"1975-12-31","birth_place":"63220"}'
PERSON=$(call POST /v1/persons "$TRAITS" | jq -r .id)
call POST "/v1/persons/$PERSON/insi" '{}' >/dev/null
call POST "/v1/persons/$PERSON/identity-document" '{"kind":"passport"}' >/dev/null

BODY=$(jq --arg p "$PERSON" '. + {person_id: $p}' scenarios/data/pps-body.json)
DOC=$(call POST /v1/documents/pps "$BODY" | jq -r .document_id)
echo "PPS $DOC"
echo "DMP: $(call POST /v1/dmp/access "{\"person_id\":\"$PERSON\"}" | jq -r .dmp)"
JOB=$(call POST /v1/dmp/documents "{\"document_id\":\"$DOC\"}" | jq -r .job_id)
for _ in $(seq 100); do
  STATUS=$(call GET "/v1/jobs/$JOB" | jq -r .status)
  case $STATUS in done|failed) break ;; esac
  sleep 0.1
done
echo "push: $STATUS"
[ "$STATUS" = done ]
# TODO(mss, issue #8): send the PPS by MSSanté once the module is merged:
#   call POST /v1/mss/messages "{\"to\":[\"claire.martin@test.mssante.fr\"],\"document_id\":\"$DOC\",\"body\":\"PPS\",\"ack\":true}"
