// Package grafana holds the Grafana side of the compose stack — the dashboards
// (dashboards/*.json) and their provisioning (provisioning/: the ClickHouse
// data source as the read-only analyst, the dashboard provider) — and tests
// that check them without Grafana: the dashboards parse, use the provisioned
// data source, and read only tables and views that schemas/clickhouse
// creates; with the integration tag, every panel's SQL runs on ClickHouse.
//
// The dashboards mirror the console page (pkg/console) for teams that live in
// Grafana; the page stays the reference. The package has no Go code to
// import.
package grafana
