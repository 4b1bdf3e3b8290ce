#!/usr/bin/env bash
# The README's test command (and CI's): formatting, go vet, staticcheck, unit
# tests (with the race detector), then integration tests against a real ClickHouse (installed and
# started here if missing) and the kfake broker over TCP — the console's among
# them in headless Chromium (installed here if missing) — and a bounded fuzz
# run of the decoders.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$(go env GOPATH)/bin:$PATH"
STATICCHECK_VERSION=v0.8.2

step() { printf '\n=== %s\n' "$*"; }

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.run/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...
go vet -tags integration ./...

step "staticcheck"
if ! command -v staticcheck >/dev/null 2>&1 || ! staticcheck -version 2>/dev/null | grep -q "${STATICCHECK_VERSION#v}"; then
  echo "installing staticcheck ${STATICCHECK_VERSION} ..."
  GOFLAGS= go install "honnef.co/go/tools/cmd/staticcheck@${STATICCHECK_VERSION}"
fi
staticcheck ./...
staticcheck -tags integration ./...

step "ClickHouse (local, loopback)"
bash deploy/clickhouse/local.sh start
export SETTLEMON_CLICKHOUSE_ADDR="127.0.0.1:${SETTLEMON_CH_PORT:-19000}"

step "Chromium (the console's browser test)"
# Debian's chromium, installed when missing; the browser test fails without it
# when CI=true and is skipped otherwise.
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing Debian's chromium ..."
  as_root=""
  [ "$(id -u)" -eq 0 ] || as_root="sudo"
  if ! { $as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update &&
    $as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y chromium; }; then
    if [ "${CI:-}" = "true" ]; then
      echo "could not install chromium"; exit 1
    fi
    echo "could not install chromium: the console's browser test will be skipped"
  fi
fi
# Screenshots of the console's browser test.
export SETTLEMON_ARTIFACTS="${SETTLEMON_ARTIFACTS:-$PWD/.run/artifacts}"

step "unit tests with the race detector"
go test -race -count=1 ./...

step "unit and integration tests"
go test -count=1 -tags integration -timeout 30m ./...
echo "console screenshots: $SETTLEMON_ARTIFACTS"

step "fuzz the decoders (bounded)"
go test -run '^$' -fuzz '^FuzzDecode$' -fuzztime "${FUZZTIME:-20s}" ./pkg/event
go test -run '^$' -fuzz '^FuzzDecodeRecord$' -fuzztime "${FUZZTIME:-20s}" ./pkg/event
go test -run '^$' -fuzz '^FuzzDecodeMatchesReference$' -fuzztime "${FUZZTIME:-20s}" ./pkg/event

echo
echo "all checks passed"
