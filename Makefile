# settlemon — the two commands that matter are `make run` and `make test`.
.PHONY: run test unit integration lint build bench clickhouse-start clickhouse-stop cluster-start cluster-stop cluster-status cluster-test fuzz clean

GO ?= go

## run: install what is missing, start ClickHouse and run the whole pipeline on the embedded default
run:
	bash deploy/local/run.sh $(ARGS)

## test: everything CI runs — formatting, vet, staticcheck, unit and integration tests (starts ClickHouse)
test:
	bash deploy/local/test.sh

## unit: unit tests only (no servers)
unit:
	$(GO) test ./...

## integration: integration tests against a running local ClickHouse and kfake
integration:
	SETTLEMON_CLICKHOUSE_ADDR=127.0.0.1:$${SETTLEMON_CH_PORT:-19000} $(GO) test -tags integration ./...

## bench: measure the real pipeline on this machine against the performance targets (starts ClickHouse; about 2.5 minutes)
bench:
	bash deploy/clickhouse/local.sh start
	mkdir -p bin $${RUN_DIR:-.run}
	$(GO) build -o bin/settlemon-dev ./services/dev/settlemon-dev
	./bin/settlemon-dev bench --clickhouse-addr "127.0.0.1:$${SETTLEMON_CH_PORT:-19000}" \
		--clickhouse-pid-file "$${RUN_DIR:-.run}/clickhouse/clickhouse-server.pid" \
		--cpuprofile "$${RUN_DIR:-.run}/bench-cpu.pprof" $(ARGS)

## build: the production commands (services/) and the development one (services/dev/settlemon-dev) into bin/
build:
	mkdir -p bin && $(GO) build -o bin/ ./services/...

clickhouse-start:
	bash deploy/clickhouse/local.sh start

clickhouse-stop:
	bash deploy/clickhouse/local.sh stop

## cluster-start: ZooKeeper and a ClickHouse cluster of 2 shards × 2 replicas on loopback, data under .run/cluster (installs what is missing)
cluster-start:
	bash deploy/clickhouse/cluster.sh start

## cluster-stop: stop the cluster's servers and ZooKeeper
cluster-stop:
	bash deploy/clickhouse/cluster.sh stop

cluster-status:
	bash deploy/clickhouse/cluster.sh status

## cluster-test: the end-to-end cluster run — the chaos harness's cluster scenario against its own ClickHouse cluster and ZooKeeper, installing them when missing (several minutes; `make test` runs it as its own step)
cluster-test:
	bash deploy/clickhouse/cluster.sh install
	SETTLEMON_CLUSTER_CHAOS=1 $(GO) test -race -tags integration -run '^TestClusterScenario$$' -timeout 30m -v ./pkg/chaos/

clean:
	rm -rf bin
