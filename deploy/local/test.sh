#!/usr/bin/env bash
# The README's test command (and CI's): formatting, go vet, staticcheck, unit
# tests (with the race detector), then integration tests against a real ClickHouse (installed and
# started here if missing) and the kfake broker over TCP — the console's among
# them in headless Chromium, the stack against Debian's Prometheus and
# Alertmanager, and a 2 × 2 ClickHouse cluster with Debian's ZooKeeper (all
# installed here if missing) — the cluster scenario (make cluster-test),
# promtool and amtool checks, and a bounded fuzz run of the decoders.
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

# install_missing COMMAND PACKAGE WHAT: Debian's PACKAGE when COMMAND (a
# command name, or a file path) is missing. The tests that need it fail
# without it when CI=true and are skipped otherwise.
apt_updated=""
install_missing() {
  case "$1" in
  */*) [ -e "$1" ] && return 0 ;;
  *) command -v "$1" >/dev/null 2>&1 && return 0 ;;
  esac
  echo "installing Debian's $2 ($3) ..."
  local as_root=""
  [ "$(id -u)" -eq 0 ] || as_root="sudo"
  if [ -z "$apt_updated" ]; then
    $as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update && apt_updated=1
  fi
  if ! $as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "$2"; then
    if [ "${CI:-}" = "true" ]; then
      echo "could not install $2"; exit 1
    fi
    echo "could not install $2: $3 will be skipped"
  fi
}

step "Chromium, Prometheus, Alertmanager, docker-compose, ZooKeeper"
install_missing chromium chromium "the console's browser test"
install_missing /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc fonts-noto-cjk "Chinese glyphs in the browser test's screenshots"
install_missing prometheus prometheus "the real-Prometheus stack test and promtool checks"
install_missing prometheus-alertmanager prometheus-alertmanager "the real-Alertmanager stack test and amtool checks"
install_missing docker-compose docker-compose "docker-compose config checks"
install_missing /usr/share/java/zookeeper.jar zookeeper "the ClickHouse cluster test (deploy/clickhouse/cluster.sh)"

step "promtool and amtool on the project's configuration"
if command -v promtool >/dev/null 2>&1; then
  promtool check rules deploy/prometheus/rules.yml
  promtool check config deploy/prometheus/prometheus.yml
  # The cluster's configuration beside the rules, as the container mounts them.
  promdir="$(mktemp -d)"
  cp deploy/cluster/prometheus.yml deploy/prometheus/rules.yml "$promdir/"
  promtool check config "$promdir/prometheus.yml"
  rm -rf "$promdir"
fi
if command -v amtool >/dev/null 2>&1; then
  amtool check-config deploy/alertmanager/alertmanager.yml
fi
# Screenshots of the console's browser test.
export SETTLEMON_ARTIFACTS="${SETTLEMON_ARTIFACTS:-$PWD/.run/artifacts}"

step "unit tests with the race detector"
go test -race -count=1 ./...

step "unit and integration tests"
go test -count=1 -tags integration -timeout 30m ./...
echo "console screenshots: $SETTLEMON_ARTIFACTS"

step "the cluster scenario (make cluster-test: 3 broker nodes, several instances per stage, a 2 × 2 ClickHouse cluster with ZooKeeper; several minutes)"
SETTLEMON_CLUSTER_CHAOS=1 go test -race -count=1 -tags integration -run '^TestClusterScenario$' -timeout 30m -v ./pkg/chaos/

step "fuzz the decoders (bounded)"
go test -run '^$' -fuzz '^FuzzDecode$' -fuzztime "${FUZZTIME:-20s}" ./pkg/event
go test -run '^$' -fuzz '^FuzzDecodeRecord$' -fuzztime "${FUZZTIME:-20s}" ./pkg/event
go test -run '^$' -fuzz '^FuzzDecodeMatchesReference$' -fuzztime "${FUZZTIME:-20s}" ./pkg/event

echo
echo "all checks passed"
