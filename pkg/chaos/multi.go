package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"settlemon/pkg/event"
	"settlemon/pkg/pipeline"
)

// The multi-instance scenario's shape: a three-node broker, two ingest
// instances per source in each source's group, two joiner instances in the
// joiner group (a third replaces the one killed), and a short joiner
// session so that the coordinator gives up on the killed member in seconds.
const (
	multiBrokers       = 3
	multiIngests       = 2
	multiSession       = 3 * time.Second
	multiCheckpointGap = time.Second
)

// Ownership is what the multi-instance scenario read from the joiners'
// /metrics (settlemon_joiner_partition_owned) and the ingest instances'
// (settlemon_ingest_partition_owned).
type Ownership struct {
	// Before: joiner → partitions of the events topic, once the first two
	// had split them; After: once the third had taken over.
	Before, After map[string][]int
	// Ingest: ingest instance → partitions of its source topic, once every
	// source's instances had split their topic.
	Ingest    map[string][]int
	Killed    string
	Successor string
	// Restores is the successor's settlemon_joiner_checkpoint_restores_total
	// once it owned the killed one's partitions.
	Restores float64
	// Takeover is from the SIGKILL until the successor owned them;
	// KillRecovery from the SIGKILL until every group had committed what
	// Kafka held at that moment (the harness's recovery measure).
	Takeover, KillRecovery time.Duration
	// IngestLeft: the auth ingest instances once one of them was stopped
	// cleanly (SIGTERM) mid-run; IngestJoined: once a new one had joined.
	IngestLeft, IngestJoined map[string][]int
	// Logged: per joiner, the last "partitions assigned" line of its log
	// that names its member id and the partitions its metrics showed.
	Logged map[string]string
	// Shuffles counts the leader and coordinator shuffles of the broker,
	// LeaderMoves the partitions of the events topic whose leader changed
	// in them.
	Shuffles, LeaderMoves int
}

// multiRun is the multi-instance scenario's state.
type multiRun struct {
	logs   string
	env    []string
	common []string
	owned  Ownership
}

// brokers is the number of broker nodes the scenario runs.
func (r *run) brokers() int {
	if r.sc == MultiInstance || r.sc == Cluster {
		return multiBrokers
	}
	return 1
}

// startMulti starts the multi-instance pipeline: each child with its own
// ops endpoint and a client id naming it. The joiners are not restarted
// when killed (the scenario starts a successor instead); their client ids,
// which prefix their member ids, sort in start order, so the range assignor
// over sorted partitions (kafkaio.SortedRange) gives the successor of the
// second exactly the partitions the second had.
func (r *run) startMulti(logs string, common, env []string) error {
	m := &multiRun{logs: logs, env: env, common: common}
	r.multi = m
	for s := event.Auth; s < event.NumSources; s++ {
		for i := 1; i <= multiIngests; i++ {
			c, err := m.child(r, fmt.Sprintf("ingest-%s-%d", s, i), "ingest", append(r.topo.IngestArgs(s), common...), true)
			if err != nil {
				return err
			}
			r.ingests = append(r.ingests, c)
			r.ingestSrc = append(r.ingestSrc, s)
		}
	}
	for _, name := range []string{"joiner-a", "joiner-b"} {
		c, err := m.child(r, name, "joiner", m.joinerArgs(r), false)
		if err != nil {
			return err
		}
		r.joiners = append(r.joiners, c)
	}
	for _, stage := range pipeline.Stages(r.ingests, r.joiners...) {
		for _, c := range stage {
			if err := c.start(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *multiRun) joinerArgs(r *run) []string {
	return append(append(r.topo.JoinerArgs(), m.common...), "--session-timeout", multiSession.String(),
		"--checkpoint-interval", multiCheckpointGap.String())
}

// child builds a child named name. Its ops endpoint listens on a port the
// system picks at each start (--ops-listen 127.0.0.1:0 in common), found in
// its log by opsAddr: a port picked here and passed on could be taken by
// another process before the child binds it.
func (m *multiRun) child(r *run, name, bin string, args []string, restart bool) (*child, error) {
	args = append(slices.Clone(args), "--kafka-client-id", name)
	return newChild(name, filepath.Join(r.h.bin, bin), args, m.env, filepath.Join(m.logs, name+".log"), restart, r.log), nil
}

// opsLine finds the address in the "ops endpoint listening" line a service
// logs (text format) once its ops endpoint is bound.
var opsLine = regexp.MustCompile(`msg="ops endpoint listening"[^\n]*? addr=(\S+)`)

// opsAddr is the ops endpoint of c's current process: the address of the
// last "ops endpoint listening" line of its log, which every start appends
// to.
func opsAddr(c *child) (string, error) {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return "", fmt.Errorf("reading its log for its ops address: %w", err)
	}
	all := opsLine.FindAllSubmatch(b, -1)
	if len(all) == 0 {
		return "", errors.New("its ops endpoint is not listening yet")
	}
	return string(all[len(all)-1][1]), nil
}

// multiInstance is the scenario: the two joiners and each source's two
// ingest instances split their partitions, the leaders move, the second
// joiner is SIGKILLed mid-stream once it has checkpointed, a third starts
// and must own exactly the killed one's partitions, restored from their
// checkpoints; the leaders move again, and an auth ingest instance leaves
// cleanly and a new one joins.
func (r *run) multiInstance(ctx, wctx context.Context, t0 time.Time) error {
	m, po, parts := r.multi, r.cfg.PublishOver, r.cfg.Partitions
	own := &m.owned
	defer func() { r.mu.Lock(); r.ownership = own; r.mu.Unlock() }()
	a, b := r.joiners[0], r.joiners[1]
	before, err := r.waitOwned(ctx, 2*time.Minute, []*child{a, b}, func(o map[string]owned) error {
		return splitCheck(o, parts)
	})
	if err != nil {
		return fmt.Errorf("the two joiners did not split the partitions: %w", err)
	}
	r.progress("joiners split the partitions: %s", ownedLine(before))
	if err := r.ingestSplit(ctx, own); err != nil {
		return err
	}
	for _, at := range []time.Duration{po / 6, po / 3} {
		if !sleepUntil(ctx, t0.Add(at)) {
			return ctx.Err()
		}
		if err := r.shuffleLeaders(ctx, own); err != nil {
			return err
		}
	}
	// Mid-stream, and once the victim has checkpointed each of its
	// partitions about once.
	if !sleepUntil(ctx, t0.Add(po/2)) {
		return ctx.Err()
	}
	// What the victim owns right before the kill (the shuffles rebalanced
	// the group meanwhile); its successor must own exactly that.
	victim, c, killedAt, after, err := r.replaceJoiner(ctx, time.Minute, own, true, func(killedAt time.Time) {
		r.watch(wctx, "kill of "+b.name, killedAt)
	})
	if err != nil {
		return err
	}
	own.Takeover = time.Since(killedAt)
	own.After = partitionsOf(after)
	own.Restores = after[c.name].restores
	r.progress("%s took over %v after %s (%v partitions restored from checkpoints): %s", c.name, victim.parts,
		own.Takeover.Round(100*time.Millisecond), own.Restores, ownedLine(after))
	for range 2 {
		if err := r.shuffleLeaders(ctx, own); err != nil {
			return err
		}
		r.watch(wctx, "leader shuffle", time.Now())
		if !sleepUntil(ctx, time.Now().Add(2*time.Second)) {
			return ctx.Err()
		}
	}
	own.Logged = map[string]string{}
	for _, w := range []struct {
		c     *child
		parts []int
	}{{b, victim.parts}, {c, after[c.name].parts}, {a, after[a.name].parts}} {
		line, err := assignedLine(filepath.Join(m.logs, w.c.name+".log"), w.c.name, w.parts)
		if err != nil {
			r.problem("%s: %v", w.c.name, err)
			continue
		}
		own.Logged[w.c.name] = line
	}
	if err := r.ingestHandover(ctx, wctx, own); err != nil {
		return err
	}
	r.note("%d broker nodes, %d ingest instances per source, joiners split %s; SIGKILL %s, %s owned %v after %s, %v restored from checkpoints; auth ingest left cleanly and rejoined (%s); %d leader shuffles moved %d leaders",
		multiBrokers, multiIngests, ownedLine(before), b.name, c.name, victim.parts, own.Takeover.Round(100*time.Millisecond), own.Restores,
		fmt.Sprint(own.IngestJoined), own.Shuffles, own.LeaderMoves)
	return nil
}

// assignedLine returns the last "partitions assigned" line of a child's log
// that names a member id of the child (client id first) and the partitions.
func assignedLine(path, name string, parts []int) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	list := fmt.Sprint(parts)
	if strings.Contains(list, " ") {
		list = strconv.Quote(list)
	}
	want := []string{`msg="partitions assigned"`, "generation=", "member_id=" + name + "-", " partitions=" + list + " "}
	found := ""
	for _, line := range strings.Split(string(b), "\n") {
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(line, w)
		}
		if ok {
			found = line
		}
	}
	if found == "" {
		return "", fmt.Errorf("no log line with %q", want)
	}
	return found, nil
}

// ingestHandover stops one auth ingest instance cleanly, waits until the
// other owns every partition, starts a new instance and waits until the
// two have split the topic again.
func (r *run) ingestHandover(ctx, wctx context.Context, own *Ownership) error {
	var insts []*child
	for i, c := range r.ingests {
		if r.ingestSrc[i] == event.Auth {
			insts = append(insts, c)
		}
	}
	stay, leave := insts[0], insts[1]
	r.progress("stopping %s cleanly (SIGTERM)", leave.name)
	stopped := time.Now()
	if err := leave.stop(30 * time.Second); err != nil {
		return err
	}
	split := func(o map[string]owned) error { return splitCheck(o, r.cfg.Partitions) }
	left, err := r.waitOwned(ctx, 2*time.Minute, []*child{stay}, split)
	if err != nil {
		return fmt.Errorf("%s did not take over the partitions of %s, stopped cleanly: %w", stay.name, leave.name, err)
	}
	own.IngestLeft = partitionsOf(left)
	r.progress("%s left cleanly; %s", leave.name, ownedLine(left))
	r.watch(wctx, "clean stop of "+leave.name, stopped)
	m := r.multi
	join, err := m.child(r, "ingest-auth-3", "ingest", append(r.topo.IngestArgs(event.Auth), m.common...), true)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.ingests = append(r.ingests, join)
	r.ingestSrc = append(r.ingestSrc, event.Auth)
	r.mu.Unlock()
	if err := join.start(); err != nil {
		return err
	}
	joined, err := r.waitOwned(ctx, 2*time.Minute, []*child{stay, join}, split)
	if err != nil {
		return fmt.Errorf("%s did not get a share of the partitions: %w", join.name, err)
	}
	own.IngestJoined = partitionsOf(joined)
	r.progress("%s joined; %s", join.name, ownedLine(joined))
	return nil
}

// ingestSplit waits until every source's ingest instances have split the
// source topic's partitions between them.
func (r *run) ingestSplit(ctx context.Context, own *Ownership) error {
	own.Ingest = map[string][]int{}
	for s := event.Auth; s < event.NumSources; s++ {
		var cs []*child
		for i, c := range r.ingests {
			if r.ingestSrc[i] == s {
				cs = append(cs, c)
			}
		}
		got, err := r.waitOwned(ctx, 2*time.Minute, cs, func(o map[string]owned) error { return splitCheck(o, r.cfg.Partitions) })
		if err != nil {
			return fmt.Errorf("the %s ingest instances did not split %s: %w", s, r.topo.Topics.Sources[s], err)
		}
		maps.Copy(own.Ingest, partitionsOf(got))
		r.progress("%s ingest instances split the topic: %s", s, ownedLine(got))
	}
	return nil
}

// shuffleLeaders moves the broker's partition leaders and coordinators
// and counts the events topic's leaders that moved.
func (r *run) shuffleLeaders(ctx context.Context, own *Ownership) error {
	events := url.QueryEscape(r.topo.Topics.Events)
	before, err := r.leaders(ctx, http.MethodGet, "/leaders?topic="+events)
	if err != nil {
		return err
	}
	after, err := r.leaders(ctx, http.MethodPost, "/leaders/shuffle?topic="+events)
	if err != nil {
		return err
	}
	moved := 0
	for p, node := range after.Leaders[r.topo.Topics.Events] {
		if before.Leaders[r.topo.Topics.Events][p] != node {
			moved++
		}
	}
	own.Shuffles++
	own.LeaderMoves += moved
	r.progress("partition leaders and group coordinators shuffled (%d): %d of %d %s leaders moved, now %v", own.Shuffles, moved,
		len(after.Leaders[r.topo.Topics.Events]), r.topo.Topics.Events, after.Leaders[r.topo.Topics.Events])
	return nil
}

func (r *run) leaders(ctx context.Context, method, path string) (ShuffleState, error) {
	var st ShuffleState
	req, err := http.NewRequestWithContext(ctx, method, "http://"+r.controlAddr+path, nil)
	if err != nil {
		return st, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, fmt.Errorf("broker leaders: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("broker leaders: %s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// replaceJoiner SIGKILLs the second joiner once it and the first split the
// partitions and it has checkpointed each of its own (waiting up to
// limit), starts joiner-c in its place and waits until joiner-c owns
// partitions restored from checkpoints (exactly the killed one's, when
// exact), recording both sides in own. killed runs right after the kill.
// It returns what the victim owned, the successor, when the kill was and the
// ownership after the takeover.
func (r *run) replaceJoiner(ctx context.Context, limit time.Duration, own *Ownership, exact bool, killed func(time.Time)) (owned, *child, time.Time, map[string]owned, error) {
	m, parts := r.multi, r.cfg.Partitions
	a, b := r.joiners[0], r.joiners[1]
	atKill, err := r.waitOwned(ctx, limit, []*child{a, b}, func(o map[string]owned) error {
		if err := splitCheck(o, parts); err != nil {
			return err
		}
		if got := o[b.name]; got.checkpoints < float64(len(got.parts)) {
			return fmt.Errorf("%s wrote %v checkpoints, want %d", b.name, got.checkpoints, len(got.parts))
		}
		return nil
	})
	if err != nil {
		return owned{}, nil, time.Time{}, nil, fmt.Errorf("the joiners did not split the partitions with the one to kill checkpointed: %w", err)
	}
	victim := atKill[b.name]
	own.Before = partitionsOf(atKill)
	if !b.kill() {
		return victim, nil, time.Time{}, nil, fmt.Errorf("%s was not running when it was to be killed", b.name)
	}
	killedAt := time.Now()
	own.Killed = b.name
	if !b.waitExit(10 * time.Second) {
		return victim, nil, killedAt, nil, fmt.Errorf("%s did not exit after SIGKILL", b.name)
	}
	r.progress("SIGKILL %s (owned %v); starting joiner-c", b.name, victim.parts)
	killed(killedAt)
	c, err := m.child(r, "joiner-c", "joiner", m.joinerArgs(r), false)
	if err != nil {
		return victim, nil, killedAt, nil, err
	}
	r.mu.Lock()
	r.joiners = append(r.joiners, c)
	r.mu.Unlock()
	if err := c.start(); err != nil {
		return victim, nil, killedAt, nil, err
	}
	own.Successor = c.name
	after, err := r.waitOwned(ctx, 3*time.Minute, []*child{a, c}, func(o map[string]owned) error {
		if err := splitCheck(o, parts); err != nil {
			return err
		}
		if got := o[c.name].parts; exact && !slices.Equal(got, victim.parts) {
			return fmt.Errorf("%s owns %v, want the killed one's %v", c.name, got, victim.parts)
		}
		if o[c.name].restores < 1 {
			return fmt.Errorf("%s restored no partition from a checkpoint", c.name)
		}
		return nil
	})
	if err != nil {
		return victim, c, killedAt, nil, fmt.Errorf("no takeover of the killed joiner's partitions: %w", err)
	}
	return victim, c, killedAt, after, nil
}

// owned is one instance's view of itself, from its /metrics.
type owned struct {
	parts                 []int // sorted
	generation            float64
	checkpoints, restores float64
}

// waitOwned scrapes the children until ok accepts what they own (every
// child answering), or limit passes.
func (r *run) waitOwned(ctx context.Context, limit time.Duration, cs []*child, ok func(map[string]owned) error) (map[string]owned, error) {
	deadline := time.Now().Add(limit)
	var last error
	for {
		o := map[string]owned{}
		var err error
		for _, c := range cs {
			var got owned
			var addr string
			if addr, err = opsAddr(c); err == nil {
				got, err = scrapeOwned(ctx, addr)
			}
			if err != nil {
				err = fmt.Errorf("%s: %w", c.name, err)
				break
			}
			o[c.name] = got
		}
		if err == nil {
			if err = ok(o); err == nil {
				return o, nil
			}
		}
		last = err
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("within %s: %w", limit, last)
		}
		if !sleepUntil(ctx, time.Now().Add(250*time.Millisecond)) {
			return nil, ctx.Err()
		}
	}
}

// scrapeOwned reads an instance's ownership metrics, joiner or ingest.
func scrapeOwned(ctx context.Context, addr string) (owned, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return owned{}, err
	}
	cl := http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Do(req)
	if err != nil {
		return owned{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return owned{}, fmt.Errorf("/metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return owned{}, fmt.Errorf("parsing /metrics: %w", err)
	}
	return ownedFrom(mfs), nil
}

// ownedFrom reads the ownership metrics of a joiner
// (settlemon_joiner_partition_owned and its counters) or of an ingest
// instance (settlemon_ingest_partition_owned).
func ownedFrom(mfs map[string]*dto.MetricFamily) owned {
	var o owned
	for _, name := range []string{"settlemon_joiner_partition_owned", "settlemon_ingest_partition_owned"} {
		for _, m := range mfs[name].GetMetric() {
			if m.GetGauge().GetValue() != 1 {
				continue
			}
			for _, l := range m.GetLabel() {
				if l.GetName() == "partition" {
					if p, err := strconv.Atoi(l.GetValue()); err == nil {
						o.parts = append(o.parts, p)
					}
				}
			}
		}
	}
	slices.Sort(o.parts)
	value := func(name string) float64 { // of an unlabelled gauge or counter
		ms := mfs[name].GetMetric()
		if len(ms) == 0 {
			return 0
		}
		if ms[0].Gauge != nil {
			return ms[0].GetGauge().GetValue()
		}
		return ms[0].GetCounter().GetValue()
	}
	o.generation = max(value("settlemon_joiner_group_generation"), value("settlemon_ingest_group_generation"))
	o.checkpoints = value("settlemon_joiner_checkpoints_total")
	o.restores = value("settlemon_joiner_checkpoint_restores_total")
	return o
}

// splitCheck accepts instances that own non-empty, disjoint sets of
// partitions covering 0..partitions-1, all in the same generation.
func splitCheck(o map[string]owned, partitions int) error {
	seen := map[int]string{}
	var gen float64
	for i, name := range slices.Sorted(maps.Keys(o)) {
		got := o[name]
		if len(got.parts) == 0 {
			return fmt.Errorf("%s owns no partition", name)
		}
		if i == 0 {
			gen = got.generation
		} else if got.generation != gen {
			return fmt.Errorf("generations differ (%v and %v): a rebalance is under way", gen, got.generation)
		}
		for _, p := range got.parts {
			if other, dup := seen[p]; dup {
				return fmt.Errorf("partition %d owned by both %s and %s", p, other, name)
			}
			if p < 0 || p >= partitions {
				return fmt.Errorf("%s owns partition %d of %d", name, p, partitions)
			}
			seen[p] = name
		}
	}
	if len(seen) != partitions {
		return fmt.Errorf("%d of %d partitions owned", len(seen), partitions)
	}
	return nil
}

func partitionsOf(o map[string]owned) map[string][]int {
	out := make(map[string][]int, len(o))
	for name, got := range o {
		out[name] = got.parts
	}
	return out
}

func ownedLine(o map[string]owned) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(o)) {
		parts = append(parts, fmt.Sprintf("%s %v", name, o[name].parts))
	}
	return strings.Join(parts, ", ") + fmt.Sprintf(" (generation %v)", o[slices.Min(slices.Collect(maps.Keys(o)))].generation)
}
