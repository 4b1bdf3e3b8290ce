package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"settlemon/pkg/kafkaio"
)

// groupReader reads the source topic as a member of the ingest consumer
// group through kafka-go's ConsumerGroup generations, as the joiner does,
// so that the instance knows, logs and exports which partitions it owns (a
// kafka.Reader with a GroupID keeps its assignments to itself). One
// partition reader per owned partition feeds a shared queue; FetchMessage
// hands out its messages in arrival order and CommitMessages commits them
// with the generation that delivered them.
//
// On revocation (a rebalance or Close) each partition asks for the commit
// of the messages it handed out (drainRequests) and waits for it, up to
// drainWait, so that the batches in hand finish in the generation that read
// them; messages still
// queued are dropped and read again by the next owner. A commit that still
// misses its generation is skipped with a warning: the next owner re-reads
// from the last commit, and every reader of the pipeline's topics drops the
// copies by event id.
type groupReader struct {
	topic string
	cg    *kafka.ConsumerGroup
	rc    kafka.ReaderConfig // template of the partition readers
	log   *slog.Logger
	// onRevoke is told the partitions released by a generation.
	onRevoke func(parts []int)

	owned  *kafkaio.Ownership
	queue  chan delivery
	drain  chan struct{} // a revoked partition waits for a commit
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	handers map[int]*claim // partition → the claim that handed out its last message
}

// drainWait bounds how long a revoked partition waits for the commit of
// what it handed out; under the group's rebalance timeout.
const drainWait = 5 * time.Second

// partitionQueue bounds each partition reader's own queue.
const partitionQueue = 1000

// delivery is a message with the claim that read it.
type delivery struct {
	m kafka.Message
	c *claim
}

// claim is one partition owned in one generation.
type claim struct {
	gen *kafka.Generation
	ctx context.Context // ends with the generation

	mu        sync.Mutex
	handed    int64 // offset after the last message handed out
	committed int64 // offset after the last message committed
}

// newGroupReader joins the group; owned is kept up to date with the
// assignment.
func newGroupReader(cgc kafka.ConsumerGroupConfig, rc kafka.ReaderConfig, owned *kafkaio.Ownership, log *slog.Logger, onRevoke func([]int)) (*groupReader, error) {
	cg, err := kafka.NewConsumerGroup(cgc)
	if err != nil {
		return nil, fmt.Errorf("joining group %s: %w", cgc.ID, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &groupReader{topic: rc.Topic, cg: cg, rc: rc, owned: owned, log: log, onRevoke: onRevoke, cancel: cancel, done: make(chan struct{}),
		queue: make(chan delivery, max(rc.QueueCapacity, 1)), drain: make(chan struct{}, 1), handers: map[int]*claim{}}
	go func() { defer close(g.done); g.run(ctx) }()
	return g, nil
}

// run follows the generations until Close.
func (g *groupReader) run(ctx context.Context) {
	for {
		gen, err := g.cg.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				return
			}
			g.log.Warn("ingest: waiting for the next group generation", "err", err)
			if !sleepCtx(ctx, time.Second) {
				return
			}
			continue
		}
		assigned := gen.Assignments[g.topic]
		ids := make([]int, len(assigned))
		for i, pa := range assigned {
			ids[i] = pa.ID
		}
		gained, lost := g.owned.Set(gen.ID, gen.MemberID, ids)
		g.log.Info("partitions assigned", "generation", gen.ID, "member_id", gen.MemberID, "topic", g.topic,
			"partitions", g.owned.Get().Partitions, "gained", gained, "lost", lost)
		gen.Start(func(gctx context.Context) {
			<-gctx.Done()
			if released := g.owned.Revoke(gen.ID); len(released) > 0 {
				g.log.Info("partitions revoked", "generation", gen.ID, "member_id", gen.MemberID, "topic", g.topic, "partitions", released)
				if g.onRevoke != nil {
					g.onRevoke(released)
				}
			}
		})
		for _, pa := range assigned {
			gen.Start(func(gctx context.Context) { g.readPartition(gctx, gen, pa.ID, pa.Offset) })
		}
	}
}

// readPartition queues the partition's messages from offset until the
// generation ends, then waits for the commit of what was handed out.
func (g *groupReader) readPartition(ctx context.Context, gen *kafka.Generation, id int, offset int64) {
	c := &claim{gen: gen, ctx: ctx, handed: -1, committed: -1}
	rc := g.rc
	rc.Partition = id
	// The shared queue holds the read-ahead; each partition's own stays
	// small, so that memory does not grow with the partitions owned.
	rc.QueueCapacity = min(rc.QueueCapacity, partitionQueue)
	r := kafka.NewReader(rc)
	defer r.Close()
	if offset < 0 {
		offset = kafka.FirstOffset
	}
	if err := r.SetOffset(offset); err != nil {
		g.log.Error("ingest: positioning the partition reader; the generation ends", "partition", id, "err", err)
		return
	}
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() == nil {
				// Ending this function ends the generation: the group
				// rebalances and the partition is read again.
				g.log.Warn("ingest: reading the partition failed; rejoining the group", "partition", id, "err", err)
			}
			break // the generation ended (or the group closed)
		}
		select {
		case g.queue <- delivery{m: m, c: c}:
			continue
		case <-ctx.Done():
		}
		break
	}
	if !c.drained() {
		select {
		case g.drain <- struct{}{}:
		default: // already asked
		}
	}
	deadline := time.Now().Add(drainWait)
	for !c.drained() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !c.drained() {
		g.log.Warn("ingest: partition revoked before its messages in hand were committed; its next owner reads them again",
			"partition", id, "generation", gen.ID, "handed", c.handed, "committed", c.committed)
	}
}

func (c *claim) drained() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.committed >= c.handed
}

// drainRequests delivers a value when a revoked partition waits for the
// commit of messages it handed out: whoever holds them should commit now.
func (g *groupReader) drainRequests() <-chan struct{} { return g.drain }

// FetchMessage returns the next message of an owned partition.
func (g *groupReader) FetchMessage(ctx context.Context) (kafka.Message, error) {
	for {
		select {
		case d := <-g.queue:
			c := d.c
			c.mu.Lock()
			if c.ctx.Err() != nil {
				c.mu.Unlock()
				continue // revoked before it was handed out: its next owner reads it
			}
			c.handed = d.m.Offset + 1
			c.mu.Unlock()
			g.mu.Lock()
			g.handers[d.m.Partition] = c
			g.mu.Unlock()
			return d.m, nil
		case <-ctx.Done():
			return kafka.Message{}, ctx.Err()
		case <-g.done:
			return kafka.Message{}, errGroupReaderClosed
		}
	}
}

var errGroupReaderClosed = errors.New("ingest: the group reader is closed")

// CommitMessages commits, per partition, the offset after the highest
// message given, with the generation that handed out the partition's last
// message.
func (g *groupReader) CommitMessages(_ context.Context, msgs ...kafka.Message) error {
	next := map[int]int64{}
	for i := range msgs {
		next[msgs[i].Partition] = max(next[msgs[i].Partition], msgs[i].Offset+1)
	}
	byClaim := map[*claim]map[int]int64{}
	g.mu.Lock()
	for p, off := range next {
		c := g.handers[p]
		if c == nil {
			g.mu.Unlock()
			return fmt.Errorf("committing partition %d: no message of it was handed out", p)
		}
		if byClaim[c] == nil {
			byClaim[c] = map[int]int64{}
		}
		byClaim[c][p] = off
	}
	g.mu.Unlock()
	for c, offs := range byClaim {
		err := c.gen.CommitOffsets(map[string]map[int]int64{g.topic: offs})
		if err != nil && c.ctx.Err() != nil {
			g.log.Warn("ingest: offset commit after the partitions were revoked; their next owner reads from the last commit",
				"generation", c.gen.ID, "offsets", offs, "err", err)
			err = nil
		}
		if err != nil {
			return err
		}
		c.mu.Lock()
		for _, off := range offs {
			c.committed = max(c.committed, off)
		}
		c.mu.Unlock()
	}
	return nil
}

// Close leaves the group (its partitions drain first) and stops.
func (g *groupReader) Close() error {
	err := g.cg.Close()
	g.cancel()
	<-g.done
	if errors.Is(err, kafka.ErrGroupClosed) {
		err = nil
	}
	return err
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
