package store

import (
	"io/fs"
	"strings"
	"testing"

	"settlemon/schemas"
)

// TestAlertsMigration checks that the alert history insert names only columns
// of the table 0004_alerts.sql creates and later migrations add, in the SQL
// subset 18.16 accepts.
func TestAlertsMigration(t *testing.T) {
	sub, err := fs.Sub(schemas.ClickHouse, "clickhouse")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations(sub)
	if err != nil {
		t.Fatal(err)
	}
	var ddl strings.Builder
	for _, m := range ms {
		for _, s := range m.statements {
			ddl.WriteString(s + "\n")
		}
	}
	body := createBody(t, ddl.String(), alertTable.name)
	for _, m := range ms {
		for _, s := range m.statements {
			if col, ok := strings.CutPrefix(strings.TrimSpace(s), "ALTER TABLE alerts ADD COLUMN "); ok {
				body += " " + col + "\n"
			}
		}
	}
	for _, c := range names(alertTable.cols) {
		if !strings.Contains(body, " "+c+" ") {
			t.Errorf("alerts: insert names column %s the migration does not create", c)
		}
	}
	if strings.Contains(body, "DateTime64") || strings.Contains(body, "LowCardinality") {
		t.Errorf("alerts uses a type 18.16 lacks:\n%s", body)
	}
}

func TestJSONObject(t *testing.T) {
	tests := []struct {
		in   map[string]string
		want string
	}{
		{nil, "{}"},
		{map[string]string{}, "{}"},
		{map[string]string{"severity": "critical", "alertname": "BatchStalled"}, `{"alertname":"BatchStalled","severity":"critical"}`},
		{map[string]string{"summary": `a "quoted" <b>`}, `{"summary":"a \"quoted\" \u003cb\u003e"}`},
	}
	for _, tc := range tests {
		if got := jsonObject(tc.in); got != tc.want {
			t.Errorf("jsonObject(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
