package grafana

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"settlemon/schemas"
)

// Paths relative to this package.
const (
	dashboardsDir  = "dashboards"
	datasourceFile = "provisioning/datasources/clickhouse.yml"
	providerFile   = "provisioning/dashboards/settlemon.yml"
	composeFile    = "../../docker-compose.yml"
	pluginID       = "grafana-clickhouse-datasource"
)

// dashboard is what the checks read of a dashboard.
type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int             `json:"id"`
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Datasource *datasourceRef  `json:"datasource"`
	Targets    []target        `json:"targets"`
	Panels     []panel         `json:"panels"` // of a row
	Raw        json.RawMessage `json:"-"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type target struct {
	RefID      string         `json:"refId"`
	Datasource *datasourceRef `json:"datasource"`
	RawSQL     string         `json:"rawSql"`
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Datasource *datasourceRef  `json:"datasource"`
	Query      json.RawMessage `json:"query"`
}

// query is one SQL statement of a dashboard, with where it comes from.
type query struct {
	where string
	ds    *datasourceRef
	sql   string
}

func loadDashboards(tb testing.TB) map[string]dashboard {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(dashboardsDir, "*.json"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(files) == 0 {
		tb.Fatalf("no dashboard in %s", dashboardsDir)
	}
	out := map[string]dashboard{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			tb.Fatalf("%s is not valid JSON: %v", f, err)
		}
		out[f] = d
	}
	return out
}

// queries lists the SQL of every panel (rows included) and query variable.
func queries(tb testing.TB, file string, d dashboard) []query {
	tb.Helper()
	var out []query
	var walk func(ps []panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, t := range p.Targets {
				ds := t.Datasource
				if ds == nil {
					ds = p.Datasource
				}
				out = append(out, query{where: file + ": panel " + p.Title + " (" + t.RefID + ")", ds: ds, sql: t.RawSQL})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			RawSQL string `json:"rawSql"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			tb.Errorf("%s: variable %s: query is not an object with rawSql: %v", file, v.Name, err)
			continue
		}
		out = append(out, query{where: file + ": variable " + v.Name, ds: v.Datasource, sql: q.RawSQL})
	}
	return out
}

// schemaObjects are the tables and views the migrations create.
func schemaObjects(tb testing.TB) map[string]bool {
	tb.Helper()
	create := regexp.MustCompile(`(?im)^\s*CREATE\s+(?:TABLE|VIEW|MATERIALIZED\s+VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?([A-Za-z_][A-Za-z0-9_]*)`)
	out := map[string]bool{}
	err := fs.WalkDir(schemas.ClickHouse, ".", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := fs.ReadFile(schemas.ClickHouse, path)
		if err != nil {
			return err
		}
		for _, m := range create.FindAllSubmatch(b, -1) {
			out[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	if !out["settlement_lag"] || !out["lag_stats_by_hour"] {
		tb.Fatalf("reading the migrations found only %v", out)
	}
	return out
}

// tableRef is a table or view a query reads (FROM or JOIN a name, not a
// subquery).
var tableRef = regexp.MustCompile(`(?i)\b(?:FROM|JOIN)\s+([A-Za-z_][A-Za-z0-9_.]*)`)

type datasourceFileT struct {
	APIVersion  int `yaml:"apiVersion"`
	Datasources []struct {
		Name           string            `yaml:"name"`
		UID            string            `yaml:"uid"`
		Type           string            `yaml:"type"`
		JSONData       map[string]any    `yaml:"jsonData"`
		SecureJSONData map[string]string `yaml:"secureJsonData"`
	} `yaml:"datasources"`
}

func loadDatasource(tb testing.TB) datasourceFileT {
	tb.Helper()
	b, err := os.ReadFile(datasourceFile)
	if err != nil {
		tb.Fatal(err)
	}
	var f datasourceFileT
	if err := yaml.Unmarshal(b, &f); err != nil {
		tb.Fatalf("%s: %v", datasourceFile, err)
	}
	if len(f.Datasources) != 1 {
		tb.Fatalf("%s: want one data source, found %d", datasourceFile, len(f.Datasources))
	}
	return f
}

func TestDashboardsReadOnlyWhatTheSchemaCreates(t *testing.T) {
	objects := schemaObjects(t)
	ds := loadDatasource(t).Datasources[0]
	uids := map[string]string{}
	for file, d := range loadDashboards(t) {
		if d.UID == "" || d.Title == "" {
			t.Errorf("%s: a dashboard needs a uid and a title", file)
		}
		if other, dup := uids[d.UID]; dup {
			t.Errorf("%s and %s have the same uid %s", file, other, d.UID)
		}
		uids[d.UID] = file
		qs := queries(t, file, d)
		if len(qs) == 0 {
			t.Errorf("%s: no query", file)
		}
		for _, q := range qs {
			if q.ds == nil || q.ds.UID != ds.UID || q.ds.Type != pluginID {
				t.Errorf("%s: data source %+v, want the provisioned %s (uid %s)", q.where, q.ds, pluginID, ds.UID)
			}
			if strings.TrimSpace(q.sql) == "" {
				t.Errorf("%s: empty SQL", q.where)
				continue
			}
			refs := tableRef.FindAllStringSubmatch(q.sql, -1)
			if len(refs) == 0 {
				t.Errorf("%s: reads no table: %s", q.where, q.sql)
			}
			for _, m := range refs {
				name := m[1]
				if db, table, ok := strings.Cut(name, "."); ok {
					if db != "settle" {
						t.Errorf("%s: reads %s, outside the settle database", q.where, name)
					}
					name = table
				}
				if !objects[name] {
					t.Errorf("%s: reads %s, which schemas/clickhouse does not create", q.where, m[1])
				}
			}
		}
	}
}

// service is what the checks read of a compose service.
type service struct {
	Image       string         `yaml:"image"`
	Environment map[string]any `yaml:"environment"`
	Volumes     []string       `yaml:"volumes"`
	DependsOn   map[string]any `yaml:"depends_on"`
}

func (s service) env(name string) string {
	if v, ok := s.Environment[name]; ok && v != nil {
		return fmt.Sprint(v)
	}
	return ""
}

// loadService reads one service of docker-compose.yml.
func loadService(tb testing.TB, name string) service {
	tb.Helper()
	b, err := os.ReadFile(composeFile)
	if err != nil {
		tb.Fatal(err)
	}
	var c struct {
		Services map[string]yaml.Node `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		tb.Fatalf("%s: %v", composeFile, err)
	}
	n, ok := c.Services[name]
	if !ok {
		tb.Fatalf("%s has no %s service", composeFile, name)
	}
	var s service
	if err := n.Decode(&s); err != nil {
		tb.Fatalf("%s: service %s: %v", composeFile, name, err)
	}
	return s
}

func TestProvisioningMatchesTheStack(t *testing.T) {
	g := loadService(t, "grafana")
	if !slices.Contains(strings.FieldsFunc(g.env("GF_INSTALL_PLUGINS"), func(r rune) bool { return r == ',' || r == ' ' }), pluginID) {
		t.Errorf("service grafana: GF_INSTALL_PLUGINS=%q does not install %s", g.env("GF_INSTALL_PLUGINS"), pluginID)
	}
	mounts := map[string]string{} // container path → repository path
	for _, v := range g.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && strings.HasPrefix(parts[0], ".") {
			mounts[parts[1]] = filepath.Clean(parts[0])
		}
	}
	if mounts["/etc/grafana/provisioning"] != "deploy/grafana/provisioning" {
		t.Errorf("service grafana: deploy/grafana/provisioning is not mounted at /etc/grafana/provisioning (mounts %v)", mounts)
	}

	// The dashboard provider reads the mounted dashboards folder.
	pb, err := os.ReadFile(providerFile)
	if err != nil {
		t.Fatal(err)
	}
	var prov struct {
		Providers []struct {
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	if err := yaml.Unmarshal(pb, &prov); err != nil {
		t.Fatalf("%s: %v", providerFile, err)
	}
	if len(prov.Providers) == 0 {
		t.Fatalf("%s: no provider", providerFile)
	}
	for _, p := range prov.Providers {
		if p.Type != "file" || mounts[p.Options.Path] != "deploy/grafana/dashboards" {
			t.Errorf("%s: provider reads %s (%s), which is not deploy/grafana/dashboards mounted into grafana", providerFile, p.Options.Path, p.Type)
		}
	}

	// The data source logs in to the stack's ClickHouse as the read-only
	// analyst, with the password the clickhouse service gives it.
	ds := loadDatasource(t).Datasources[0]
	if ds.Type != pluginID {
		t.Errorf("%s: type %s, want %s", datasourceFile, ds.Type, pluginID)
	}
	if host, _ := ds.JSONData["host"].(string); host != "clickhouse" {
		t.Errorf("%s: host %q, want the stack's clickhouse service", datasourceFile, host)
	}
	if ds.JSONData["username"] != "analyst" {
		t.Errorf("%s: username %v, want the read-only analyst", datasourceFile, ds.JSONData["username"])
	}
	if ds.JSONData["defaultDatabase"] != "settle" {
		t.Errorf("%s: defaultDatabase %v, want settle", datasourceFile, ds.JSONData["defaultDatabase"])
	}
	pass := ds.SecureJSONData["password"]
	env := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(pass, "$"), "{"), "}")
	if !strings.HasPrefix(pass, "$") || g.env(env) == "" {
		t.Errorf("%s: password %q must come from a variable the grafana service sets", datasourceFile, pass)
	} else if ch := loadService(t, "clickhouse").env("SETTLEMON_ANALYST_PASSWORD"); g.env(env) != ch {
		t.Errorf("service grafana: %s=%q, but clickhouse gives the analyst %q", env, g.env(env), ch)
	}
	if _, ok := g.DependsOn["clickhouse"]; !ok {
		if _, ok := g.DependsOn["migrate"]; !ok {
			t.Error("service grafana: depends on neither clickhouse nor migrate")
		}
	}
}
