#!/usr/bin/env bash
# api.sh drives kavach serve's API with curl, as a client in another
# language would. TestCurlScript runs it against a server it started.
#
# Environment: SOCK (the Unix socket), TCP_URL and TOKEN (a TCP listener
# that wants a bearer token), PROCESS=1 when commands really run.
set -euo pipefail

fail() { echo "FAIL: $*" >&2; exit 1; }

# call METHOD PATH [curl args...]: prints the body, then the status on
# its own last line.
call() {
	local method=$1 path=$2
	shift 2
	curl -sS --unix-socket "$SOCK" -X "$method" -w '\n%{http_code}' "$@" "http://kavach$path"
}
status() { tail -n1 <<<"$1"; }
body() { sed '$d' <<<"$1"; }
expect() { # expect WHAT RESPONSE STATUS [CODE]
	local s; s=$(status "$2")
	[[ $s == "$3" ]] || fail "$1: status $s, want $3: $(body "$2")"
	if [[ $# -ge 4 ]]; then
		grep -q "\"code\":\"$4\"" <<<"$(body "$2")" || fail "$1: want error code $4: $(body "$2")"
	fi
}

r=$(call POST /v1/sandboxes -H 'Content-Type: application/json' -d '{"policy":"basic","limits":{"timeout_ms":10000}}')
expect create "$r" 201
id=$(body "$r" | sed -n 's/.*"id":"\([0-9a-f-]*\)".*/\1/p')
[[ -n $id ]] || fail "no id in $(body "$r")"

r=$(call GET "/v1/sandboxes/$id")
expect get "$r" 200
grep -q '"state":"Running"' <<<"$(body "$r")" || fail "not running: $(body "$r")"
grep -q '"score":{"value":' <<<"$(body "$r")" || fail "no score: $(body "$r")"

r=$(call POST "/v1/sandboxes/$id/exec" -d '{"args":["sh","-c","echo hello from curl; exit 4"]}')
expect exec "$r" 200
if [[ ${PROCESS:-0} == 1 ]]; then
	grep -q '"exit_code":4' <<<"$(body "$r")" || fail "exit code: $(body "$r")"
	grep -q '"stdout":"hello from curl\\n"' <<<"$(body "$r")" || fail "stdout: $(body "$r")"
fi

r=$(call POST "/v1/sandboxes/$id/exec/stream" -N -d '{"args":["sh","-c","echo a; echo b"]}')
expect stream "$r" 200
[[ $(body "$r" | grep -v '^$' | tail -n1) == '{"type":"exit",'* ]] || fail "stream does not end with exit: $(body "$r")"
if [[ ${PROCESS:-0} == 1 ]]; then
	[[ $(body "$r" | grep -c '"type":"stdout"') -ge 1 ]] || fail "no stdout events: $(body "$r")"
fi

r=$(call PUT "/v1/sandboxes/$id/files?path=dir/note.txt" --data-binary 'note body')
expect upload "$r" 201
r=$(call GET "/v1/sandboxes/$id/files?path=dir/note.txt")
expect download "$r" 200
[[ $(body "$r") == 'note body' ]] || fail "download: $(body "$r")"

r=$(call PUT "/v1/sandboxes/$id/files?path=../escape" --data-binary x)
expect "traversal" "$r" 400 bad_path
r=$(call GET "/v1/sandboxes/$id/files?path=%2Fetc%2Fpasswd")
expect "absolute path" "$r" 400 bad_path
r=$(call POST /v1/sandboxes -d '{"policy":')
expect "bad json" "$r" 400 bad_json
r=$(call GET /v1/sandboxes/00000000-0000-4000-8000-000000000000)
expect "unknown id" "$r" 404 not_found

r=$(call DELETE "/v1/sandboxes/$id")
expect destroy "$r" 204
r=$(call DELETE "/v1/sandboxes/$id")
expect "destroy again" "$r" 204
r=$(call GET "/v1/sandboxes/$id")
expect "get destroyed" "$r" 404 not_found

r=$(curl -sS -w '\n%{http_code}' "$TCP_URL/v1/sandboxes")
expect "tcp without token" "$r" 401 unauthorized
r=$(curl -sS -w '\n%{http_code}' -H "Authorization: Bearer wrong-$TOKEN" "$TCP_URL/v1/sandboxes")
expect "tcp wrong token" "$r" 401 unauthorized
r=$(curl -sS -w '\n%{http_code}' -H "Authorization: Bearer $TOKEN" "$TCP_URL/v1/sandboxes")
expect "tcp token" "$r" 200

echo "api.sh: ok"
