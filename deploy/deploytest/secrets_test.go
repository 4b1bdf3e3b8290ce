package deploytest

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const deployReadme = "deploy/README.md"

// secretName matches the names of variables that hold secrets.
var secretName = regexp.MustCompile(`(?i)(PASSWORD|TOKEN|SECRET)`)

// allHostVars are the ${…} references of the whole compose file, by name.
func allHostVars(tb testing.TB, st stack) map[string][]hostVar {
	tb.Helper()
	out := map[string][]hostVar{}
	for _, hv := range hostVars(string(readRepoFile(tb, st.Path))) {
		out[hv.Name] = append(out[hv.Name], hv)
	}
	return out
}

func TestSecretsAreRequired(t *testing.T) {
	forEachStack(t, func(t *testing.T, st stack, c composeFile) {
		for _, name := range sortedNames(c.Services) {
			for _, key := range sortedNames(c.Services[name].Environment) {
				if !secretName.MatchString(key) || strings.HasSuffix(key, "_FILE") {
					continue
				}
				v := c.Services[name].Environment[key]
				refs := hostVars(v)
				if len(refs) != 1 || "${"+refs[0].Name+refs[0].Op+refs[0].Arg+"}" != v || refs[0].Op != ":?" {
					t.Errorf("service %s: %s=%q: a secret must be exactly ${VAR:?message} (required, no default) or come from a file (%s_FILE)", name, key, v, key)
					continue
				}
				if !strings.Contains(refs[0].Arg, deployReadme) {
					t.Errorf("service %s: %s: the message of ${%s:?…} should point to %s", name, key, refs[0].Name, deployReadme)
				}
			}
		}
		for name, refs := range allHostVars(t, st) {
			for _, hv := range refs {
				if secretName.MatchString(name) && hv.Op != ":?" {
					t.Errorf("%s: ${%s%s%s}: a secret has no default; write ${%s:?message}", st.Path, name, hv.Op, hv.Arg, name)
				}
			}
		}
	})
}

// tableRow is one row of the host-variable table of deploy/README.md.
var tableRow = regexp.MustCompile("^\\| `([A-Z][A-Z0-9_]*)` \\| (yes|no) \\|")

func TestHostVariablesAreDocumentedInOneTable(t *testing.T) {
	rows := map[string]bool{} // variable → required
	var lines []int
	sc := bufio.NewScanner(bytes.NewReader(readRepoFile(t, deployReadme)))
	for n := 1; sc.Scan(); n++ {
		if m := tableRow.FindStringSubmatch(sc.Text()); m != nil {
			if _, dup := rows[m[1]]; dup {
				t.Errorf("%s:%d: %s is listed twice", deployReadme, n, m[1])
			}
			rows[m[1]] = m[2] == "yes"
			lines = append(lines, n)
		}
	}
	if len(lines) == 0 {
		t.Fatalf("%s has no table of host variables (rows \"| `VAR` | yes|no | …\")", deployReadme)
	}
	if lines[len(lines)-1]-lines[0] != len(lines)-1 {
		t.Errorf("%s: the host variables are spread over lines %v; keep them in one table", deployReadme, lines)
	}
	read := map[string]bool{} // read by some stack
	for _, st := range stacks {
		vars := allHostVars(t, st)
		for _, name := range sortedNames(vars) {
			read[name] = true
			required, ok := rows[name]
			if !ok {
				t.Errorf("%s reads ${%s}, which the table in %s does not list", st.Path, name, deployReadme)
				continue
			}
			if want := vars[name][0].Required; required != want {
				t.Errorf("%s: %s is marked required=%v, but %s has required=%v", deployReadme, name, required, st.Path, want)
			}
			if _, ok := exampleSecrets[name]; ok != required {
				t.Errorf("%s: required=%v, but this test's exampleSecrets %s it", name, required, map[bool]string{true: "has", false: "lacks"}[ok])
			}
		}
	}
	for _, name := range sortedNames(rows) {
		if !read[name] {
			t.Errorf("%s lists %s, which no compose file reads", deployReadme, name)
		}
	}
	if !strings.Contains(string(readRepoFile(t, "README.md")), deployReadme) {
		t.Errorf("README.md does not link %s", deployReadme)
	}
}

// exactTag is an image tag naming an exact release: v1.2.3, 1.2.3.4, or a
// dated build (bookworm-20251229-slim); an optional @sha256 digest follows.
var exactTag = regexp.MustCompile(`^[a-z0-9./_-]+:(v?\d+\.\d+\.\d+(\.\d+)?|[a-z]+-\d{8}(-[a-z]+)?)(-[a-z0-9]+)?(@sha256:[0-9a-f]{64})?$`)

func TestImagesArePinned(t *testing.T) {
	forEachStack(t, func(t *testing.T, st stack, c composeFile) {
		apps := appServices(t, c)
		for _, name := range sortedNames(c.Services) {
			if _, ok := apps[name]; ok {
				continue // built here
			}
			if img := c.Services[name].Image; !exactTag.MatchString(img) {
				t.Errorf("service %s: image %q is not pinned to an exact version (e.g. name:1.2.3)", name, img)
			}
		}
		if g, ok := c.Services["grafana"]; ok {
			for _, p := range strings.Split(g.Environment["GF_INSTALL_PLUGINS"], ",") {
				if p = strings.TrimSpace(p); p == "" {
					continue
				}
				if f := strings.Fields(p); len(f) != 2 || !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(f[1]) {
					t.Errorf("service grafana: plugin %q is not pinned: write \"<id> <version>\", e.g. grafana-clickhouse-datasource 4.14.1", p)
				}
			}
		}
		// The Dockerfile's base images, with its ARG defaults substituted.
		df := string(readRepoFile(t, dockerfilePath))
		args := map[string]string{}
		for _, line := range dockerfileInstructions(df) {
			f := strings.Fields(line)
			switch {
			case len(f) == 2 && strings.EqualFold(f[0], "ARG"):
				if k, v, ok := strings.Cut(f[1], "="); ok {
					args[k] = v
				}
			case len(f) >= 2 && strings.EqualFold(f[0], "FROM"):
				img := regexp.MustCompile(`\$\{?([A-Z_]+)\}?`).ReplaceAllStringFunc(f[1], func(ref string) string {
					return args[strings.Trim(ref, "${}")]
				})
				if !exactTag.MatchString(img) {
					t.Errorf("%s: FROM %s (%s) is not pinned to an exact version", dockerfilePath, f[1], img)
				}
			}
		}
	})
}

// serviceEnv is the environment compose gives service s, with the required
// host variables set to exampleSecrets.
func serviceEnv(tb testing.TB, name string, s composeService) []string {
	tb.Helper()
	var out []string
	for _, k := range sortedNames(s.Environment) {
		v, err := interpolate(s.Environment[k], exampleSecrets)
		if err != nil {
			tb.Fatalf("service %s: %s: %v", name, k, err)
		}
		out = append(out, k+"="+v)
	}
	return out
}

// checkConfig runs the service's command with --check-config in env.
func checkConfig(tb testing.TB, cmd command, env []string) (string, error) {
	tb.Helper()
	bin := filepath.Join(commandsDir(tb), filepath.Base(cmd[0]))
	args := append(slices.Clone([]string(cmd[1:])), "--check-config")
	c := exec.Command(bin, args...)
	c.Env = env
	c.Dir = tb.TempDir()
	out, err := c.CombinedOutput()
	return string(out), err
}

func TestServicesStartWithTheirEnvironment(t *testing.T) {
	forEachStack(t, func(t *testing.T, st stack, c composeFile) {
		apps := appServices(t, c)
		for _, name := range sortedNames(apps) {
			s := apps[name]
			t.Run(name, func(t *testing.T) {
				env := serviceEnv(t, name, s)
				out, err := checkConfig(t, s.Command, env)
				if err != nil {
					t.Fatalf("service %s: %s --check-config with its compose environment: %v\n%s", name, commandName(s.Command), err, out)
				}
				if !strings.Contains(out, "configuration is valid") {
					t.Errorf("service %s: --check-config said\n%s", name, out)
				}
			})
		}
		// The check is not vacuous: the console without its token is refused.
		if s, ok := apps["console"]; ok {
			env := slices.DeleteFunc(serviceEnv(t, "console", s), func(kv string) bool { return strings.HasPrefix(kv, "SETTLEMON_TOKEN=") })
			out, err := checkConfig(t, s.Command, env)
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(out, "token") {
				t.Errorf("console without SETTLEMON_TOKEN: --check-config gave %v, want exit 2 naming the token:\n%s", err, out)
			}
		}
	})
}

// composeCommand finds docker-compose, or the docker compose plugin.
func composeCommand(tb testing.TB) []string {
	tb.Helper()
	if p, err := exec.LookPath("docker-compose"); err == nil {
		return []string{p}
	}
	if p, err := exec.LookPath("docker"); err == nil {
		if exec.Command(p, "compose", "version").Run() == nil {
			return []string{p, "compose"}
		}
	}
	msg := "docker-compose is not installed (nor the docker compose plugin): `docker-compose config -q` is not checked; install it with `sudo apt-get install docker-compose`"
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
	return nil
}

func TestComposeConfigIsValid(t *testing.T) {
	dc := composeCommand(t)
	forEachStack(t, func(t *testing.T, st stack, c composeFile) {
		profiles := map[string]bool{}
		for _, s := range c.Services {
			for _, p := range s.Profiles {
				profiles[p] = true
			}
		}
		run := func(env []string, profile string) (string, error) {
			args := append(slices.Clone(dc[1:]), "--project-directory", repoRoot(t), "-f", filepath.Join(repoRoot(t), st.Path))
			if profile != "" {
				args = append(args, "--profile", profile)
			}
			args = append(args, "config", "-q")
			cmd := exec.Command(dc[0], args...)
			// Only PATH and HOME from this machine: no SETTLEMON_* of its own, no .env.
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
			cmd.Dir = t.TempDir()
			out, err := cmd.CombinedOutput()
			return string(out), err
		}
		var secrets []string
		for _, k := range sortedNames(exampleSecrets) {
			secrets = append(secrets, k+"="+exampleSecrets[k])
		}
		for _, p := range append([]string{""}, sortedNames(profiles)...) {
			t.Run("profile="+p, func(t *testing.T) {
				if out, err := run(secrets, p); err != nil {
					t.Errorf("config -q with the secrets set: %v\n%s", err, out)
				}
			})
		}
		// Without a secret compose refuses, naming it.
		vars := allHostVars(t, st)
		for _, missing := range sortedNames(exampleSecrets) {
			if _, ok := vars[missing]; !ok {
				continue // a secret of the other stack (Grafana's is the single node's)
			}
			t.Run("without "+missing, func(t *testing.T) {
				env := slices.DeleteFunc(slices.Clone(secrets), func(kv string) bool { return strings.HasPrefix(kv, missing+"=") })
				out, err := run(env, "")
				if err == nil || !strings.Contains(out, missing) {
					t.Errorf("config -q without %s: %v, want a failure naming it:\n%s", missing, err, out)
				}
			})
		}
	})
}
