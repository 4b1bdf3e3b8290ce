package arch

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pure are the packages that hold domain logic only.
var pure = []string{
	"settlemon/pkg/join",
	"settlemon/pkg/fact",
	"settlemon/pkg/calendar",
	"settlemon/pkg/event",
	"settlemon/pkg/pan",
	"settlemon/pkg/score",
	"settlemon/pkg/text",
	"settlemon/pkg/incident",
}

// forbidden are the packages a pure package may not depend on, even
// indirectly: brokers, databases, the network, and the project's I/O
// layers.
var forbidden = []string{
	"github.com/segmentio/kafka-go",
	"github.com/twmb/franz-go",
	"github.com/ClickHouse/clickhouse-go",
	"database/sql",
	"net",
	"net/http",
	"settlemon/pkg/store",
	"settlemon/pkg/kafkaio",
	"settlemon/pkg/ingest",
	"settlemon/pkg/joiner",
	"settlemon/pkg/pipeline",
	"settlemon/pkg/telemetry",
	"settlemon/pkg/devbroker",
}

// clock are the functions of package time that read the wall clock or wait
// on it.
var clock = map[string]bool{"Now": true, "Since": true, "Until": true, "Sleep": true, "After": true,
	"AfterFunc": true, "Tick": true, "NewTimer": true, "NewTicker": true}

type listed struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Deps       []string
}

func list(tb testing.TB, pkgs ...string) []listed {
	tb.Helper()
	out, err := exec.Command("go", append([]string{"list", "-json", "-deps=false"}, pkgs...)...).Output()
	if err != nil {
		tb.Fatalf("go list: %v", err)
	}
	var res []listed
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var l listed
		if err := dec.Decode(&l); err != nil {
			tb.Fatal(err)
		}
		res = append(res, l)
	}
	return res
}

func TestPurePackagesDoNoIO(t *testing.T) {
	for _, p := range list(t, pure...) {
		for _, d := range p.Deps {
			for _, f := range forbidden {
				if d == f || strings.HasPrefix(d, f+"/") {
					t.Errorf("%s depends on %s: the domain logic must not reach brokers, databases or the network", p.ImportPath, d)
				}
			}
		}
	}
}

func TestPurePackagesReadNoClock(t *testing.T) {
	fset := token.NewFileSet()
	for _, p := range list(t, pure...) {
		for _, name := range p.GoFiles {
			path := filepath.Join(p.Dir, name)
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			timePkg := ""
			for _, imp := range f.Imports {
				if imp.Path.Value == `"time"` {
					timePkg = "time"
					if imp.Name != nil {
						timePkg = imp.Name.Name
					}
				}
			}
			if timePkg == "" {
				continue
			}
			ast.Inspect(f, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == timePkg && clock[sel.Sel.Name] {
					t.Errorf("%s: %s calls time.%s: pass the time in instead", p.ImportPath, fset.Position(sel.Pos()), sel.Sel.Name)
				}
				return true
			})
		}
	}
}
