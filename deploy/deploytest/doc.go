// Package deploytest checks the production-like stack — docker-compose.yml and
// deploy/docker — against the code, without Docker: every SETTLEMON_* variable a
// service sets must be a flag its command reads (learned from the command's own
// --help, built by the test), each service gets the addresses it needs, the
// ingest services cover every source, the topic script creates every topic the
// services default to, the ClickHouse users match what the services log in with,
// and nothing is published beyond loopback. Every secret is required (no
// default) and every host variable is in the one table of deploy/README.md;
// images, base images and the Grafana plugin are pinned; each service's
// command accepts its compose environment (`--check-config`, with the secrets
// set to examples); and `docker-compose config -q` passes with and without
// each profile and fails without a secret (skipped when docker-compose is
// missing, failed under CI=true). For the observability stack: the
// alerting rules parse with Prometheus' own rule parser and read only metrics
// the services' collectors describe, Prometheus scrapes every long-running
// service on the ops port it listens on, each of them is health-checked with
// `settlemon probe` on its /readyz, and Alertmanager routes to a webhook.
//
// It deliberately does not start containers or check images: what only a Docker
// engine can prove (the image builds, the broker and ClickHouse start) is left to
// `docker compose up`.
package deploytest
