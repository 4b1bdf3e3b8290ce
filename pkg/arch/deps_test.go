package arch

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// production are the binaries of a deployment. Every main package under
// services/ is one unless it is listed in devInImage; the development
// commands live under services/dev/.
var production = []string{
	"settlemon/services/ingest",
	"settlemon/services/joiner",
	"settlemon/services/console",
	"settlemon/services/alerter",
	"settlemon/services/settlemon",
}

// devInImage are main packages under services/ that are development tools
// although the image carries them: the simulator of compose's sim profile.
var devInImage = []string{"settlemon/services/simulator"}

// tooling are the packages no production binary may link, each with the
// packages below it.
var tooling = []string{
	"settlemon/pkg/simulator",
	"settlemon/pkg/devbroker",
	"settlemon/pkg/chaos",
	"settlemon/pkg/bench",
	"settlemon/pkg/score",
	"settlemon/pkg/allinone",
	"settlemon/services/dev/settlemon-dev",
	"github.com/twmb/franz-go/pkg/kfake",
}

func isTooling(pkg string) bool {
	for _, t := range tooling {
		if pkg == t || strings.HasPrefix(pkg, t+"/") {
			return true
		}
	}
	return false
}

// goList runs go list in the repository root and returns its output lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = filepath.Join("..", "..")
	cmd.Stderr = new(strings.Builder)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, cmd.Stderr)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// TestToolingListExists keeps the tooling list honest: a renamed package
// would otherwise make TestProductionLinksNoTooling pass vacuously.
func TestToolingListExists(t *testing.T) {
	got := goList(t, append([]string{"-e", "-f", "{{.ImportPath}} {{if .Error}}{{.Error}}{{end}}"}, tooling...)...)
	for _, line := range got {
		if path, errText, _ := strings.Cut(line, " "); errText != "" {
			t.Errorf("tooling package %s: %s", path, errText)
		}
	}
}

// TestEveryServiceIsClassified makes a new main package under services/ a
// production binary, checked below, unless it is listed as a dev tool.
func TestEveryServiceIsClassified(t *testing.T) {
	for _, line := range goList(t, "-f", "{{.Name}} {{.ImportPath}}", "./services/...") {
		name, path, _ := strings.Cut(line, " ")
		if name != "main" || strings.HasPrefix(path, "settlemon/services/dev/") {
			continue
		}
		if !slices.Contains(production, path) && !slices.Contains(devInImage, path) {
			t.Errorf("%s is a command under services/ but neither in production nor in devInImage", path)
		}
	}
}

// TestProductionLinksNoTooling fails when a production binary's dependency
// list holds a tooling package, naming the import chain that pulls it in.
func TestProductionLinksNoTooling(t *testing.T) {
	for _, bin := range production {
		t.Run(filepath.Base(bin), func(t *testing.T) {
			imports := map[string][]string{}
			for _, line := range goList(t, "-deps", "-f", "{{.ImportPath}}:{{join .Imports \" \"}}", bin) {
				path, deps, _ := strings.Cut(line, ":")
				imports[path] = strings.Fields(deps)
			}
			if len(imports) < 2 {
				t.Fatalf("go list -deps %s listed %d packages; want its dependencies", bin, len(imports))
			}
			for path := range imports {
				if isTooling(path) {
					t.Errorf("%s links the tooling package %s: %s", bin, path, strings.Join(chain(imports, bin, path), " -> "))
				}
			}
		})
	}
}

// chain is a shortest import path from the package from to the package to.
func chain(imports map[string][]string, from, to string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p == to {
			var out []string
			for ; p != ""; p = prev[p] {
				out = append(out, p)
			}
			slices.Reverse(out)
			return out
		}
		for _, d := range imports[p] {
			if _, seen := prev[d]; !seen {
				prev[d] = p
				queue = append(queue, d)
			}
		}
	}
	return []string{from, "?", to}
}

// TestImageBuildsOnlyServices checks that every go build of the production
// Dockerfile builds named packages under services/ only, none of
// services/dev/: the development commands stay out of the image.
func TestImageBuildsOnlyServices(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "docker", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	builds := 0
	for line := range strings.SplitSeq(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") || !strings.Contains(line, "go build") {
			continue
		}
		builds++
		for _, arg := range strings.Fields(line[strings.Index(line, "go build"):]) {
			if !strings.HasPrefix(arg, "./") {
				continue
			}
			if !strings.HasPrefix(arg, "./services/") || strings.HasPrefix(arg, "./services/dev") || strings.HasSuffix(arg, "/...") {
				t.Errorf("the Dockerfile builds %s: want named production commands under services/, none of services/dev/: %s", arg, strings.TrimSpace(line))
			}
		}
	}
	if builds == 0 {
		t.Error("the Dockerfile has no go build")
	}
}

// sqlWords start the SQL statements the project runs.
var sqlWords = []string{"SELECT ", "INSERT INTO", "ALTER TABLE", "DROP TABLE", "DROP DATABASE", "CREATE TABLE", "OPTIMIZE TABLE"}

// sqlExempt are the files that spell a SQL keyword without running a
// statement, each with why.
var sqlExempt = map[string]string{
	"settlemon/pkg/chaos/proxy.go": "the fault proxy recognises an INSERT in the native protocol's bytes; it runs no statement",
}

// TestQueriesGoThroughTheStore: no package, the store aside, production or
// tooling, holds a SQL statement or reaches for a raw connection, and the
// store does not hand its connection out; queries belong to the store.
// Tests may check with SQL of their own (storetest.Conn).
func TestQueriesGoThroughTheStore(t *testing.T) {
	for _, line := range goList(t, "-f", "{{.ImportPath}} {{.Dir}} {{join .GoFiles \",\"}}", "./...") {
		path, rest, _ := strings.Cut(line, " ")
		dir, files, _ := strings.Cut(rest, " ")
		for _, f := range strings.Split(files, ",") {
			if f == "" {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			src := string(b)
			if path == "settlemon/pkg/store" {
				if strings.Contains(src, "func (s *Store) Conn(") {
					t.Errorf("%s/%s exports the store's connection: add the query to the store instead", path, f)
				}
				continue
			}
			if _, ok := sqlExempt[path+"/"+f]; ok {
				continue
			}
			if strings.Contains(src, ".Conn()") {
				t.Errorf("%s/%s calls .Conn(): add the query to pkg/store instead", path, f)
			}
			for _, kw := range sqlWords {
				if strings.Contains(src, kw) {
					t.Errorf("%s/%s holds SQL (%q): every statement belongs to pkg/store", path, f, strings.TrimSpace(kw))
				}
			}
		}
	}
}
