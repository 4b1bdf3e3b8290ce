package deploytest

import (
	"encoding/xml"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"settlemon/pkg/event"
	"settlemon/pkg/service"
)

// Paths relative to the repository root.
const (
	dockerfilePath = "deploy/docker/Dockerfile"
	topicsPath     = "deploy/docker/create-topics.sh"
	usersPath      = "deploy/docker/clickhouse-users.xml"
)

// Environment variables the checks below look at.
const (
	envBrokers  = "SETTLEMON_KAFKA_BROKERS"
	envCHAddr   = "SETTLEMON_CLICKHOUSE_ADDR"
	envCHUser   = "SETTLEMON_CLICKHOUSE_USER"
	envCHPass   = "SETTLEMON_CLICKHOUSE_PASSWORD"
	envSource   = "SETTLEMON_SOURCE"
	envClock    = "SETTLEMON_CLOCK"
	envSimParts = "SETTLEMON_PARTITIONS"
)

// goRuntimeEnv are the variables the Go runtime itself reads; a service may set
// them (e.g. GOMEMLIMIT for the joiner's state, DESIGN §11).
var goRuntimeEnv = []string{"GOGC", "GOMEMLIMIT", "GOMAXPROCS", "GODEBUG"}

// needs lists, per command, the variables a service running it must set.
var needs = map[string][]string{
	"ingest":            {envBrokers, envCHAddr, envSource},
	"joiner":            {envBrokers, envCHAddr},
	"simulator":         {envBrokers},
	"settlemon migrate": {envCHAddr},
	"console":           {envCHAddr},
	"alerter":           {envCHAddr},
}

// kafkaFree are the commands that read ClickHouse only and so do not wait
// for the topics.
var kafkaFree = map[string]bool{"console": true, "alerter": true}

// readers are the commands that only read ClickHouse: they log in as the
// read-only analyst, never as the writer.
var readers = map[string]bool{"console": true}

// --- the compose file -------------------------------------------------------

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string     `yaml:"image"`
	Build       build      `yaml:"build"`
	Command     command    `yaml:"command"`
	Environment env        `yaml:"environment"`
	Ports       []port     `yaml:"ports"`
	Volumes     []mount    `yaml:"volumes"`
	DependsOn   dependsOn  `yaml:"depends_on"`
	Profiles    []string   `yaml:"profiles"`
	NetworkMode string     `yaml:"network_mode"`
	Restart     string     `yaml:"restart"`
	Healthcheck *yaml.Node `yaml:"healthcheck"`
	Deploy      struct {
		Replicas int `yaml:"replicas"`
	} `yaml:"deploy"`
}

// build is the short (context only) or long form of `build:`.
type build struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

func (b *build) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		b.Context = n.Value
		return nil
	}
	type plain build
	return n.Decode((*plain)(b))
}

// command is `command:` in exec form, or the shell form split on blanks.
type command []string

func (c *command) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*c = strings.Fields(n.Value)
		return nil
	}
	return n.Decode((*[]string)(c))
}

// env is `environment:` as a map or as a list of KEY=VALUE; values are raw
// (not interpolated).
type env map[string]string

func (e *env) UnmarshalYAML(n *yaml.Node) error {
	out := env{}
	switch n.Kind {
	case yaml.MappingNode:
		var m map[string]any
		if err := n.Decode(&m); err != nil {
			return err
		}
		for k, v := range m {
			if v == nil {
				out[k] = ""
			} else {
				out[k] = fmt.Sprint(v)
			}
		}
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, kv := range l {
			k, v, _ := strings.Cut(kv, "=")
			out[k] = v
		}
	default:
		return fmt.Errorf("line %d: environment is neither a map nor a list", n.Line)
	}
	*e = out
	return nil
}

// port is one entry of `ports:`, short ("127.0.0.1:8123:8123") or long form.
type port struct {
	Short  string
	HostIP string `yaml:"host_ip"`
	Target any    `yaml:"target"`
}

func (p *port) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		p.Short = n.Value
		return nil
	}
	type plain port
	return n.Decode((*plain)(p))
}

// mount is one entry of a service's `volumes:`, short or long form.
type mount struct {
	Type   string `yaml:"type"`
	Source string `yaml:"source"`
	Target string `yaml:"target"`
}

func (m *mount) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		parts := strings.Split(n.Value, ":")
		switch len(parts) {
		case 1:
			m.Target = parts[0]
		default:
			m.Source, m.Target = parts[0], parts[1]
		}
		m.Type = "volume"
		if strings.HasPrefix(m.Source, ".") || strings.HasPrefix(m.Source, "/") {
			m.Type = "bind"
		}
		return nil
	}
	type plain mount
	return n.Decode((*plain)(m))
}

// dependsOn maps a dependency to its condition ("" in the list form).
type dependsOn map[string]string

func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	out := dependsOn{}
	if n.Kind == yaml.SequenceNode {
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, s := range l {
			out[s] = ""
		}
		*d = out
		return nil
	}
	var m map[string]struct {
		Condition string `yaml:"condition"`
	}
	if err := n.Decode(&m); err != nil {
		return err
	}
	for k, v := range m {
		out[k] = v.Condition
	}
	*d = out
	return nil
}

// interpolation matches ${VAR}, ${VAR:-default}, ${VAR-default} and the
// required forms ${VAR:?message} and ${VAR?message}.
var interpolation = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}`)

// hostVar is one ${…} reference of the compose file.
type hostVar struct {
	Name     string
	Op       string // "", "-", ":-", "?", ":?"
	Arg      string // the default or the message
	Required bool
}

// hostVars lists the ${…} references in v.
func hostVars(v string) []hostVar {
	var out []hostVar
	for _, m := range interpolation.FindAllStringSubmatch(v, -1) {
		out = append(out, hostVar{Name: m[1], Op: m[2], Arg: m[3], Required: strings.HasSuffix(m[2], "?")})
	}
	return out
}

// exampleSecrets are the values the checks give the required host variables,
// as an operator's .env would.
var exampleSecrets = map[string]string{
	"SETTLEMON_CLICKHOUSE_PASSWORD": "example-writer-password",
	"SETTLEMON_ANALYST_PASSWORD":    "example-analyst-password",
	"SETTLEMON_CONSOLE_TOKEN":       "example-console-token",
	"GRAFANA_ADMIN_PASSWORD":        "example-grafana-password",
}

// interpolate resolves v as compose does with the host variables host: a
// required variable that is missing or empty (":?") is reported.
func interpolate(v string, host map[string]string) (string, error) {
	var missing []string
	out := interpolation.ReplaceAllStringFunc(v, func(ref string) string {
		hv := hostVars(ref)[0]
		val, set := host[hv.Name]
		switch hv.Op {
		case "":
			return val
		case "-":
			if !set {
				return hv.Arg
			}
		case ":-":
			if val == "" {
				return hv.Arg
			}
		case "?":
			if !set {
				missing = append(missing, hv.Name)
			}
		case ":?":
			if val == "" {
				missing = append(missing, hv.Name)
			}
		}
		return val
	})
	if len(missing) > 0 {
		return out, fmt.Errorf("required variable %s is not set", strings.Join(missing, ", "))
	}
	return out, nil
}

// effective is v as compose resolves it when only the required host
// variables are set (to exampleSecrets).
func effective(v string) string {
	out, _ := interpolate(v, exampleSecrets)
	return out
}

// --- the repository and the commands -----------------------------------------

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// repoRoot is the repository root: two levels above this package.
func repoRoot(tb testing.TB) string {
	tb.Helper()
	rootOnce.Do(func() {
		rootDir, rootErr = filepath.Abs(filepath.Join("..", ".."))
		if rootErr != nil {
			return
		}
		b, err := os.ReadFile(filepath.Join(rootDir, "go.mod"))
		if err != nil {
			rootErr = err
			return
		}
		if !strings.HasPrefix(string(b), "module settlemon\n") {
			rootErr = fmt.Errorf("%s/go.mod is not the settlemon module", rootDir)
		}
	})
	if rootErr != nil {
		tb.Fatalf("finding the repository root: %v", rootErr)
	}
	return rootDir
}

func readRepoFile(tb testing.TB, rel string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(tb), rel))
	if err != nil {
		tb.Fatalf("reading %s: %v", rel, err)
	}
	return b
}

// stack is one compose file of the project with the Prometheus configuration
// it mounts, both relative to the repository root.
type stack struct {
	Path       string
	Prometheus string
}

// stacks are the compose files every check below runs on: the single-node
// stack and the cluster.
var stacks = []stack{
	{Path: "docker-compose.yml", Prometheus: "deploy/prometheus/prometheus.yml"},
	{Path: "deploy/cluster/docker-compose.yml", Prometheus: "deploy/cluster/prometheus.yml"},
}

// forEachStack runs f on every stack's parsed compose file, as a subtest.
func forEachStack(t *testing.T, f func(t *testing.T, st stack, c composeFile)) {
	t.Helper()
	for _, st := range stacks {
		t.Run(st.Path, func(t *testing.T) { f(t, st, loadCompose(t, st)) })
	}
}

// loadCompose parses st's compose file, with the paths of bind mounts and
// build contexts made relative to the repository root (compose resolves them
// against the file's folder).
func loadCompose(tb testing.TB, st stack) composeFile {
	tb.Helper()
	var c composeFile
	if err := yaml.Unmarshal(readRepoFile(tb, st.Path), &c); err != nil {
		tb.Fatalf("parsing %s: %v", st.Path, err)
	}
	if len(c.Services) == 0 {
		tb.Fatalf("%s defines no services", st.Path)
	}
	dir := filepath.Dir(st.Path)
	for name, s := range c.Services {
		for i, m := range s.Volumes {
			if m.Type == "bind" && !filepath.IsAbs(m.Source) {
				s.Volumes[i].Source = filepath.Join(dir, m.Source)
			}
		}
		if s.Build.Context != "" {
			s.Build.Context = filepath.Join(dir, s.Build.Context)
		}
		c.Services[name] = s
	}
	return c
}

// The images of the stacks' servers.
const (
	clickhouseImage = "clickhouse/clickhouse-server"
	kafkaImage      = "apache/kafka"
)

// brokers are the Kafka brokers of c: the long-running services of the Kafka
// image (kafka-init runs it once).
func brokers(c composeFile) []string {
	return slices.DeleteFunc(servicesOf(c, kafkaImage), func(name string) bool { return c.Services[name].Restart == "no" })
}

// servicesOf are the services of c running image (any tag), by name.
func servicesOf(c composeFile, image string) []string {
	var out []string
	for _, name := range sortedNames(c.Services) {
		if strings.HasPrefix(c.Services[name].Image, image+":") {
			out = append(out, name)
		}
	}
	return out
}

// appServices are the services running the image built from deploy/docker/Dockerfile
// (built there, or naming the image a built service tags), by name.
func appServices(tb testing.TB, c composeFile) map[string]composeService {
	tb.Helper()
	images := map[string]bool{}
	out := map[string]composeService{}
	for name, s := range c.Services {
		if s.Build.Dockerfile == dockerfilePath {
			out[name] = s
			if s.Image != "" {
				images[s.Image] = true
			}
		}
	}
	for name, s := range c.Services {
		if images[s.Image] {
			out[name] = s
		}
	}
	if len(out) == 0 {
		tb.Fatalf("no service is built from %s", dockerfilePath)
	}
	return out
}

func sortedNames[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// flagSet is what a command's --help says it reads: environment variable →
// flag name and default.
type flagSet map[string]flagInfo

// has reports whether the command has flag --name.
func (fs flagSet) has(name string) bool {
	for _, f := range fs {
		if f.Name == name {
			return true
		}
	}
	return false
}

type flagInfo struct {
	Name    string
	Default string
}

// usageLine is one flag line of service.Flags.PrintUsage.
var usageLine = regexp.MustCompile(`^  --([a-z0-9][a-z0-9-]*)  \[(SETTLEMON_[A-Z0-9_]+)\](?: \(default (.*)\))?$`)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
	helpMu    sync.Mutex
	helpCache = map[string]flagSet{}
)

// commandsDir builds every command under services/ once per test run.
func commandsDir(tb testing.TB) string {
	tb.Helper()
	root := repoRoot(tb)
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "deploytest-bin-")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+string(os.PathSeparator), "./services/...")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./services/...: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binDir
}

// commandName is how a container command is named in messages and in needs:
// the binary, plus the subcommand for settlemon.
func commandName(cmd command) string {
	if len(cmd) >= 2 && cmd[0] == "settlemon" {
		return "settlemon " + cmd[1]
	}
	if len(cmd) == 0 {
		return ""
	}
	return cmd[0]
}

// flagsOf runs the command's --help and returns the variables it lists.
func flagsOf(tb testing.TB, cmd command) flagSet {
	tb.Helper()
	if len(cmd) == 0 {
		tb.Fatal("empty command")
	}
	name := commandName(cmd)
	helpMu.Lock()
	defer helpMu.Unlock()
	if fs, ok := helpCache[name]; ok {
		return fs
	}
	bin := filepath.Join(commandsDir(tb), filepath.Base(cmd[0]))
	if _, err := os.Stat(bin); err != nil {
		tb.Fatalf("command %q is not built from ./services/...: %v", cmd[0], err)
	}
	args := []string{"--help"}
	if cmd[0] == "settlemon" {
		args = []string{cmd[1], "--help"}
	}
	c := exec.Command(bin, args...)
	c.Env = []string{} // the help must not depend on this machine's SETTLEMON_*
	out, err := c.CombinedOutput()
	if err != nil {
		tb.Fatalf("%s --help: %v\n%s", name, err, out)
	}
	fs := flagSet{}
	for _, line := range strings.Split(string(out), "\n") {
		if m := usageLine.FindStringSubmatch(line); m != nil {
			if service.EnvName(m[1]) != m[2] {
				tb.Fatalf("%s --help: flag --%s shows variable %s, want %s", name, m[1], m[2], service.EnvName(m[1]))
			}
			fs[m[2]] = flagInfo{Name: m[1], Default: m[3]}
		}
	}
	if _, ok := fs["SETTLEMON_LOG_FORMAT"]; !ok {
		tb.Fatalf("%s --help lists no --log-format [SETTLEMON_LOG_FORMAT]: has the help format changed?\n%s", name, out)
	}
	helpCache[name] = fs
	return fs
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// --- the checks --------------------------------------------------------------

func TestAppServicesSetOnlyFlagsTheirCommandReads(t *testing.T) {
	forEachStack(t, func(t *testing.T, st stack, c composeFile) {
		apps := appServices(t, c)
		for _, name := range sortedNames(apps) {
			s := apps[name]
			t.Run(name, func(t *testing.T) {
				if len(s.Command) == 0 {
					t.Fatalf("service %s: no command; the image has no entrypoint, so command must name the binary", name)
				}
				if s.Command[0] == "settlemon" && len(s.Command) < 2 {
					t.Fatalf("service %s: command %q lacks the settlemon subcommand", name, s.Command)
				}
				fs := flagsOf(t, s.Command)
				seen := 0
				for _, v := range sortedNames(s.Environment) {
					if slices.Contains(goRuntimeEnv, v) {
						continue
					}
					if !strings.HasPrefix(v, service.EnvPrefix) {
						t.Errorf("service %s: environment variable %s is neither a SETTLEMON_* flag variable nor a Go runtime variable", name, v)
						continue
					}
					seen++
					if _, ok := fs[v]; !ok {
						t.Errorf("service %s: environment variable %s is not read by %q (no flag in its --help has it)", name, v, commandName(s.Command))
					}
				}
				if seen == 0 {
					t.Errorf("service %s: sets no SETTLEMON_* variable", name)
				}
				args := s.Command[1:]
				if s.Command[0] == "settlemon" {
					args = s.Command[2:]
				}
				for _, a := range args {
					if !strings.HasPrefix(a, "-") {
						continue
					}
					flagName, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
					if !fs.has(flagName) {
						t.Errorf("service %s: command argument %s is not a flag of %q", name, a, commandName(s.Command))
					}
				}
			})
		}
	})
}

func TestAppServicesHaveTheirAddresses(t *testing.T) {
	forEachStack(t, func(t *testing.T, st stack, c composeFile) {
		apps := appServices(t, c)
		for _, name := range sortedNames(apps) {
			s := apps[name]
			cmd := commandName(s.Command)
			req, ok := needs[cmd]
			if !ok {
				t.Errorf("service %s: command %q has no entry in this test's needs table; add what it must be given", name, cmd)
				continue
			}
			for _, v := range req {
				if effective(s.Environment[v]) == "" {
					t.Errorf("service %s (%s): %s is not set", name, cmd, v)
				}
			}
			if brokers, ok := s.Environment[envBrokers]; ok {
				for _, b := range strings.Split(effective(brokers), ",") {
					checkStackAddr(t, c, name, envBrokers, strings.TrimSpace(b))
				}
			}
			if addrs, ok := s.Environment[envCHAddr]; ok {
				for _, a := range strings.Split(effective(addrs), ",") {
					checkStackAddr(t, c, name, envCHAddr, strings.TrimSpace(a))
				}
			}
		}
	})
}

// checkStackAddr checks that addr is host:port with host a service of the stack.
func checkStackAddr(t *testing.T, c composeFile, svc, v, addr string) {
	t.Helper()
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Errorf("service %s: %s=%q is not host:port: %v", svc, v, addr, err)
		return
	}
	if _, ok := c.Services[host]; !ok {
		t.Errorf("service %s: %s=%q names host %q, which is no service of the stack", svc, v, addr, host)
	}
	if _, err := strconv.ParseUint(p, 10, 16); err != nil {
		t.Errorf("service %s: %s=%q has a bad port", svc, v, addr)
	}
}

func TestIngestServicesCoverEverySource(t *testing.T) {
	forEachStack(t, func(t *testing.T, st stack, c composeFile) {
		apps := appServices(t, c)
		bySource := map[event.Source]string{}
		for _, name := range sortedNames(apps) {
			s := apps[name]
			if commandName(s.Command) != "ingest" {
				continue
			}
			raw := effective(s.Environment[envSource])
			src, err := event.ParseSource(raw)
			if err != nil {
				t.Errorf("service %s: %s=%q is not a source: %v", name, envSource, raw, err)
				continue
			}
			if other, dup := bySource[src]; dup {
				t.Errorf("service %s: %s=%s is also ingested by service %s", name, envSource, src, other)
				continue
			}
			bySource[src] = name
		}
		for src := event.Source(0); src < event.NumSources; src++ {
			if _, ok := bySource[src]; !ok {
				t.Errorf("no ingest service sets %s=%s", envSource, src)
			}
		}
	})
}

func TestJoinerClockIsValid(t *testing.T) {
	forEachStack(t, func(t *testing.T, st stack, c composeFile) {
		apps := appServices(t, c)
		for _, name := range sortedNames(apps) {
			s := apps[name]
			if commandName(s.Command) != "joiner" {
				continue
			}
			if v, ok := s.Environment[envClock]; ok {
				if clock := effective(v); clock != "live" && clock != "replay" {
					t.Errorf("service %s: %s=%q is neither live nor replay", name, envClock, clock)
				}
			}
		}
	})
}

// topicLine is one create_topic call of create-topics.sh.
var topicLine = regexp.MustCompile(`^create_topic\s+(\S+)\s+(\d+)(.*)$`)

type topicSpec struct {
	Partitions int
	Args       string
}

func scriptTopics(tb testing.TB) map[string]topicSpec {
	tb.Helper()
	out := map[string]topicSpec{}
	for _, line := range strings.Split(string(readRepoFile(tb, topicsPath)), "\n") {
		m := topicLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[2])
		out[m[1]] = topicSpec{Partitions: n, Args: m[3]}
	}
	if len(out) == 0 {
		tb.Fatalf("%s has no create_topic line", topicsPath)
	}
	return out
}

func TestTopicScriptCreatesEveryTopicTheServicesUse(t *testing.T) {
	forEachStack(t, func(t *testing.T, st stack, c composeFile) {
		apps := appServices(t, c)
		topics := scriptTopics(t)

		// topic → who uses it, for the message.
		want := map[string]string{}
		for src := event.Source(0); src < event.NumSources; src++ {
			want[src.DefaultTopic()] = "default topic of source " + src.String()
		}
		for _, name := range sortedNames(apps) {
			s := apps[name]
			fs := flagsOf(t, s.Command)
			for v, f := range fs {
				if !strings.HasSuffix(f.Name, "-topic") {
					continue
				}
				topic := f.Default
				if set, ok := s.Environment[v]; ok {
					topic = effective(set)
				}
				if topic != "" {
					want[topic] = fmt.Sprintf("service %s (%s)", name, v)
				}
			}
		}
		for _, topic := range sortedNames(want) {
			if _, ok := topics[topic]; !ok {
				t.Errorf("%s does not create topic %s, used by %s", topicsPath, topic, want[topic])
			}
		}

		merchants := event.Merchants.DefaultTopic()
		if spec, ok := topics[merchants]; ok && !strings.Contains(spec.Args, "cleanup.policy=compact") {
			t.Errorf("%s: topic %s must be created with cleanup.policy=compact", topicsPath, merchants)
		}

		// The simulator heartbeats every partition 0..N-1 of each source topic.
		for _, name := range sortedNames(apps) {
			s := apps[name]
			if commandName(s.Command) != "simulator" {
				continue
			}
			raw, ok := s.Environment[envSimParts]
			if !ok {
				raw = flagsOf(t, s.Command)[envSimParts].Default
			}
			n, err := strconv.Atoi(effective(raw))
			if err != nil {
				t.Errorf("service %s: %s=%q is not a number", name, envSimParts, raw)
				continue
			}
			for src := event.Source(0); src < event.NumSources; src++ {
				if spec, ok := topics[src.DefaultTopic()]; ok && spec.Partitions != n {
					t.Errorf("service %s: %s=%d but %s creates %s with %d partitions; heartbeats must reach every partition",
						name, envSimParts, n, topicsPath, src.DefaultTopic(), spec.Partitions)
				}
			}
		}

		mounted := false
		for _, name := range sortedNames(c.Services) {
			for _, m := range c.Services[name].Volumes {
				if filepath.Clean(m.Source) == topicsPath {
					mounted = true
				}
			}
		}
		if !mounted {
			t.Errorf("%s: no service mounts %s", st.Path, topicsPath)
		}
	})
}

func TestPublishedPortsAreLoopbackOnly(t *testing.T) {
	forEachStack(t, func(t *testing.T, st stack, c composeFile) {
		for _, name := range sortedNames(c.Services) {
			s := c.Services[name]
			if s.NetworkMode == "host" {
				t.Errorf("service %s: network_mode host publishes every port it listens on", name)
			}
			for _, p := range s.Ports {
				switch {
				case p.Short != "":
					if !strings.HasPrefix(p.Short, "127.0.0.1:") || strings.Count(p.Short, ":") < 2 {
						t.Errorf("service %s: port %q is not bound to 127.0.0.1 (write 127.0.0.1:HOST:CONTAINER)", name, p.Short)
					}
				case p.HostIP != "127.0.0.1":
					t.Errorf("service %s: port %v has host_ip %q, want 127.0.0.1", name, p.Target, p.HostIP)
				}
			}
		}
	})
}

func TestDockerfileBuildsEveryService(t *testing.T) {
	forEachStack(t, func(t *testing.T, st stack, c composeFile) {
		for _, name := range sortedNames(appServices(t, c)) {
			s := c.Services[name]
			if s.Build.Dockerfile == "" {
				continue // runs the image another service builds
			}
			if ctx := filepath.Clean(s.Build.Context); ctx != "." {
				t.Errorf("service %s: build context %q, want the repository root \".\"", name, s.Build.Context)
			}
		}

		df := string(readRepoFile(t, dockerfilePath))
		var builds, user bool
		lastUser := ""
		for _, line := range dockerfileInstructions(df) {
			fields := strings.Fields(line)
			if len(fields) == 0 {
				continue
			}
			switch strings.ToUpper(fields[0]) {
			case "FROM":
				lastUser = "" // USER applies per stage
			case "RUN":
				if strings.Contains(line, "go build") && strings.Contains(line, "./services/") {
					builds = true
				}
			case "USER":
				if len(fields) > 1 {
					lastUser = fields[1]
				}
			}
		}
		if !builds {
			t.Errorf("%s: no RUN go build ... ./services/<command>", dockerfilePath)
		}
		if !strings.Contains(df, "CGO_ENABLED=0") {
			t.Errorf("%s: binaries must be static (CGO_ENABLED=0)", dockerfilePath)
		}
		if u, _, _ := strings.Cut(lastUser, ":"); u != "" && u != "root" && u != "0" {
			user = true
		}
		if !user {
			t.Errorf("%s: the final stage must run as a non-root USER (got %q)", dockerfilePath, lastUser)
		}

		// Every command a service runs is a directory under services/.
		for _, name := range sortedNames(appServices(t, c)) {
			cmd := c.Services[name].Command
			if len(cmd) == 0 {
				continue
			}
			if !strings.Contains(strings.ReplaceAll(df, "\\\n", " "), "./services/"+filepath.Base(cmd[0])+" ") &&
				!strings.Contains(df, "./services/"+filepath.Base(cmd[0])+"\n") {
				t.Errorf("service %s runs %s, which %s does not build", name, cmd[0], dockerfilePath)
			}
			if _, err := os.Stat(filepath.Join(repoRoot(t), "services", filepath.Base(cmd[0]), "main.go")); err != nil {
				t.Errorf("service %s: command %q is not built by ./services/...: %v", name, cmd[0], err)
			}
		}
	})
}

// dockerfileInstructions joins continuation lines and drops comments.
func dockerfileInstructions(df string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(df, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		cur.WriteString(trimmed)
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	return out
}

type usersXML struct {
	Profiles struct {
		Items []struct {
			XMLName  xml.Name
			Readonly string `xml:"readonly"`
		} `xml:",any"`
	} `xml:"profiles"`
	Users struct {
		Items []struct {
			XMLName  xml.Name
			Password struct {
				FromEnv string `xml:"from_env,attr"`
			} `xml:"password"`
			Profile string `xml:"profile"`
		} `xml:",any"`
	} `xml:"users"`
}

func TestClickHouseUsersMatchTheServices(t *testing.T) {
	forEachStack(t, func(t *testing.T, st stack, c composeFile) {
		apps := appServices(t, c)
		servers := servicesOf(c, clickhouseImage)
		if len(servers) == 0 {
			t.Fatalf("%s: no ClickHouse server", st.Path)
		}

		// The services agree on who they log in as.
		user, pass := "", ""
		for _, name := range sortedNames(apps) {
			s := apps[name]
			if _, ok := s.Environment[envCHAddr]; !ok {
				continue
			}
			if readers[commandName(s.Command)] {
				if u := effective(s.Environment[envCHUser]); u != "analyst" {
					t.Errorf("service %s only reads: it must log in as the read-only analyst, not %q", name, u)
				}
				continue
			}
			u, p := s.Environment[envCHUser], s.Environment[envCHPass]
			if user == "" && pass == "" {
				user, pass = u, p
			}
			if u != user || p != pass {
				t.Errorf("service %s: ClickHouse login %s=%q %s=%q differs from the other services' %q %q", name, envCHUser, u, envCHPass, p, user, pass)
			}
		}
		if effective(user) == "" || effective(user) == "default" {
			t.Fatalf("the services must log in to ClickHouse as the stack's writer user, not %q (set %s)", effective(user), envCHUser)
		}

		var users usersXML
		if err := xml.Unmarshal(readRepoFile(t, usersPath), &users); err != nil {
			t.Fatalf("parsing %s: %v", usersPath, err)
		}
		readonly := map[string]bool{}
		for _, p := range users.Profiles.Items {
			readonly[p.XMLName.Local] = p.Readonly == "1" || p.Readonly == "2"
		}
		found := map[string]bool{}
		for _, u := range users.Users.Items {
			found[u.XMLName.Local] = true
			switch u.XMLName.Local {
			case effective(user):
				v := u.Password.FromEnv
				if v == "" {
					t.Errorf("%s: user %s must take its password from the environment (from_env)", usersPath, u.XMLName.Local)
					continue
				}
				for _, ch := range servers {
					if got := c.Services[ch].Environment[v]; got != pass {
						t.Errorf("service %s: %s=%q, but the services log in with %s=%q", ch, v, got, envCHPass, pass)
					}
				}
			case "analyst":
				if !readonly[u.Profile] {
					t.Errorf("%s: user analyst has profile %q, which is not defined there as read-only", usersPath, u.Profile)
				}
				if u.Password.FromEnv == "" {
					t.Errorf("%s: user analyst must take its password from the environment (from_env)", usersPath)
				} else {
					for _, ch := range servers {
						if _, ok := c.Services[ch].Environment[u.Password.FromEnv]; !ok {
							t.Errorf("service %s: %s (analyst's password) is not set", ch, u.Password.FromEnv)
						}
					}
				}
			}
		}
		for _, u := range []string{effective(user), "analyst"} {
			if !found[u] {
				t.Errorf("%s defines no user %s", usersPath, u)
			}
		}

		for _, ch := range servers {
			mounted := false
			for _, m := range c.Services[ch].Volumes {
				if filepath.Clean(m.Source) == usersPath && strings.HasPrefix(m.Target, "/etc/clickhouse-server/users.d/") {
					mounted = true
				}
			}
			if !mounted {
				t.Errorf("service %s: %s is not mounted into /etc/clickhouse-server/users.d/", ch, usersPath)
			}
		}
	})
}

func TestStartOrder(t *testing.T) {
	forEachStack(t, func(t *testing.T, st stack, c composeFile) {
		apps := appServices(t, c)
		for _, name := range sortedNames(apps) {
			s := apps[name]
			want := map[string]string{"kafka-init": "service_completed_successfully", "migrate": "service_completed_successfully"}
			if kafkaFree[commandName(s.Command)] {
				want = map[string]string{"migrate": "service_completed_successfully"}
			}
			if commandName(s.Command) == "settlemon migrate" {
				want = map[string]string{}
				for _, ch := range servicesOf(c, clickhouseImage) {
					want[ch] = "service_healthy" // on a cluster DDL ON CLUSTER needs every node
				}
			}
			for dep, cond := range want {
				if got, ok := s.DependsOn[dep]; !ok || got != cond {
					t.Errorf("service %s: depends_on %s should have condition %s (got %q)", name, dep, cond, got)
				}
			}
		}
		servers := append(brokers(c), servicesOf(c, clickhouseImage)...)
		if len(brokers(c)) == 0 || len(servicesOf(c, clickhouseImage)) == 0 {
			t.Errorf("the stack has brokers %v and ClickHouse servers %v; it needs both", brokers(c), servicesOf(c, clickhouseImage))
		}
		for _, dep := range servers {
			if c.Services[dep].Healthcheck == nil {
				t.Errorf("service %s: without a healthcheck", dep)
			}
		}
	})
}

func TestBindMountsExist(t *testing.T) {
	forEachStack(t, func(t *testing.T, st stack, c composeFile) {
		for _, name := range sortedNames(c.Services) {
			for _, m := range c.Services[name].Volumes {
				switch m.Type {
				case "bind":
					if filepath.IsAbs(m.Source) {
						t.Errorf("service %s: bind mount %s uses an absolute host path", name, m.Source)
						continue
					}
					if _, err := os.Stat(filepath.Join(repoRoot(t), m.Source)); err != nil {
						t.Errorf("service %s: bind mount source %s: %v", name, m.Source, err)
					}
				case "volume":
					if _, ok := c.Volumes[m.Source]; m.Source != "" && !ok {
						t.Errorf("service %s: named volume %s is not declared under volumes:", name, m.Source)
					}
				}
			}
		}
	})
}
