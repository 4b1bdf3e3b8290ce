// Package deploytest checks the production-like stack (docker-compose.yml,
// deploy/docker, deploy/prometheus, deploy/alertmanager) against the code
// without a Docker engine: every variable a service sets is a flag its
// command reads and accepts (`--check-config`), every secret is required,
// images are pinned, nothing is published beyond loopback, `docker-compose
// config -q` passes, and the alerting rules read only metrics the services
// describe. Its integration test runs the rules in a real Prometheus and
// Alertmanager. What only an engine can prove (images build, containers
// start) is left to `docker compose up`. It also checks how the project's
// own scripts start ClickHouse (deploy/clickhouse/lib.sh).
package deploytest
