package join

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"unsafe"

	"github.com/klauspost/compress/zstd"

	"settlemon/pkg/calendar"
	"settlemon/pkg/event"
	"settlemon/pkg/fact"
)

// Snapshots make restart time depend on the open state, not on the length
// of the input: the joiner checkpoints a partition's state together with the
// offset it covers, and on assignment restores the newest checkpoint and
// replays only what came after it.
//
// The payload is this build's memory layout of the pointer-free trace slab
// and timers, plus the few map- and pointer-holding parts (wide times,
// further event ids, tombstones, interned ids and bank codes, batches)
// written entry by entry, all zstd-compressed. It is framed by a header: the
// magic "SMJC", the payload's length (8 bytes) and its CRC-32C (4 bytes),
// little-endian. Restore checks both before it decodes anything, so a
// snapshot damaged in storage or transfer is refused (ErrSnapshotCorrupt,
// ErrSnapshotTruncated) rather than restored as wrong state (zstd's frame
// checksum was no such guard: flipped bytes often decoded without an error).
// A snapshot from a build with another layout is refused
// (ErrSnapshotLayout). Either way the caller recovers by replay, which is
// always correct, only slower. The checksum guards against accident, not
// against someone who can write the checkpoint table.

var (
	// ErrSnapshotLayout means the snapshot was written by a build whose
	// state layout (or framing) differs from this one.
	ErrSnapshotLayout = errors.New("join snapshot: written by a build with another state layout")
	// ErrSnapshotCorrupt means the snapshot is not what was written: its
	// checksum does not match, or it is no join snapshot at all.
	ErrSnapshotCorrupt = errors.New("corrupt join snapshot")
	// ErrSnapshotTruncated means the snapshot is shorter than written. It is
	// also ErrSnapshotCorrupt.
	ErrSnapshotTruncated = fmt.Errorf("%w: truncated", ErrSnapshotCorrupt)
)

const (
	snapshotFrame      = "SMJC"
	snapshotHeaderSize = len(snapshotFrame) + 8 + 4
	snapshotMagic      = "SMJS" // inside the payload
)

// zstdMagic starts a bare zstd frame: the unframed snapshots of earlier builds.
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// snapshotLayout changes whenever a snapshotted type's layout changes.
var snapshotLayout = [...]uint32{7, uint32(unsafe.Sizeof(entry{})), uint32(unsafe.Sizeof(timer{})),
	uint32(unsafe.Sizeof(tombstone{})), uint32(event.NumSources), uint32(unsafe.Sizeof(extraIDs{}))}

// Snapshot writes the partition's state to w. Facts not yet taken are not
// part of it: take them first.
func (p *Partition) Snapshot(w io.Writer) error {
	var payload bytes.Buffer
	if err := p.snapshot(&payload); err != nil {
		return err
	}
	header := make([]byte, 0, snapshotHeaderSize)
	header = append(header, snapshotFrame...)
	header = binary.LittleEndian.AppendUint64(header, uint64(payload.Len()))
	header = binary.LittleEndian.AppendUint32(header, crc32.Checksum(payload.Bytes(), castagnoli))
	if _, err := w.Write(header); err != nil {
		return fmt.Errorf("join snapshot: %w", err)
	}
	if _, err := w.Write(payload.Bytes()); err != nil {
		return fmt.Errorf("join snapshot: %w", err)
	}
	return nil
}

// snapshot writes the payload: the compressed state.
func (p *Partition) snapshot(w io.Writer) error {
	zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		return fmt.Errorf("join snapshot: %w", err)
	}
	sw := &snapWriter{w: bufio.NewWriterSize(zw, 1<<20)}
	sw.raw([]byte(snapshotMagic))
	for _, v := range snapshotLayout {
		sw.u64(uint64(v))
	}
	sw.entries(&p.slab)
	sw.u64(uint64(len(p.wide)))
	for k, w := range p.wide {
		sw.raw(k[:])
		sw.raw(asBytes(w[:]))
	}
	sw.u64(uint64(len(p.extra)))
	for h, x := range p.extra {
		sw.u64(h)
		sw.raw(unsafe.Slice((*byte)(unsafe.Pointer(&x)), unsafe.Sizeof(x)))
	}
	sw.timers(p.byPayouts.h)
	sw.timers(p.byClearing.h)
	sw.timers(p.byAuth.h)
	sw.timers(p.purges.h)
	sw.u64(uint64(p.tombstones.len()))
	p.tombstones.each(func(h uint64, t tombstone) {
		sw.u64(h)
		sw.raw(unsafe.Slice((*byte)(unsafe.Pointer(&t)), unsafe.Sizeof(t)))
	})
	sw.raw(asBytes(p.tombTimers.h))
	sw.strings(p.names.names)
	sw.strings(p.termIDs.names)
	sw.strings(p.codes.names)
	for s := range event.NumSources {
		sw.raw(asBytes(p.wm[s]))
	}
	for s := range event.NumSources {
		sw.i64(p.wmMin[s])
	}
	sw.i64(p.now)
	sw.u64(uint64(len(p.batches)))
	for _, b := range p.batches {
		sw.batch(b)
	}
	sw.raw(unsafe.Slice((*byte)(unsafe.Pointer(&p.stats)), unsafe.Sizeof(p.stats)))
	if sw.err == nil {
		sw.err = sw.w.Flush()
	}
	if err := zw.Close(); sw.err == nil {
		sw.err = err
	}
	if sw.err != nil {
		return fmt.Errorf("join snapshot: %w", sw.err)
	}
	return nil
}

// Restore rebuilds a partition from a snapshot written by Snapshot, with
// the given configuration and collaborators. A damaged snapshot is refused
// with an error that is ErrSnapshotCorrupt (ErrSnapshotTruncated when cut
// short), one of another build with ErrSnapshotLayout.
func Restore(cfg Config, sched *calendar.Schedule, merchants Merchants, r io.Reader) (*Partition, error) {
	p, err := New(cfg, sched, merchants)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("join restore: %w", err)
	}
	payload, err := unframe(data)
	if err != nil {
		return nil, fmt.Errorf("join restore: %w", err)
	}
	if err := p.restore(bytes.NewReader(payload)); err != nil {
		return nil, err
	}
	return p, nil
}

// unframe checks a snapshot's header and checksum and returns its payload.
func unframe(b []byte) ([]byte, error) {
	switch {
	case bytes.HasPrefix(b, zstdMagic):
		return nil, fmt.Errorf("%w (an unframed snapshot, without a checksum)", ErrSnapshotLayout)
	case !strings.HasPrefix(snapshotFrame, string(b[:min(len(b), len(snapshotFrame))])):
		return nil, fmt.Errorf("%w: not a join snapshot (no %q header)", ErrSnapshotCorrupt, snapshotFrame)
	case len(b) < snapshotHeaderSize:
		return nil, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrSnapshotTruncated, len(b), snapshotHeaderSize)
	}
	size := binary.LittleEndian.Uint64(b[len(snapshotFrame):])
	want := binary.LittleEndian.Uint32(b[len(snapshotFrame)+8:])
	payload := b[snapshotHeaderSize:]
	switch n := uint64(len(payload)); {
	case n < size:
		return nil, fmt.Errorf("%w: %d of %d payload bytes", ErrSnapshotTruncated, n, size)
	case n > size:
		return nil, fmt.Errorf("%w: %d bytes after the payload of %d", ErrSnapshotCorrupt, n-size, size)
	}
	if got := crc32.Checksum(payload, castagnoli); got != want {
		return nil, fmt.Errorf("%w: checksum mismatch (CRC-32C %08x, the header says %08x)", ErrSnapshotCorrupt, got, want)
	}
	return payload, nil
}

// restore decodes a payload into p, which is new.
func (p *Partition) restore(r io.Reader) error {
	zr, err := zstd.NewReader(r)
	if err != nil {
		return fmt.Errorf("join restore: %w", err)
	}
	defer zr.Close()
	sr := &snapReader{r: bufio.NewReaderSize(zr, 1<<20)}
	if magic := sr.raw(); string(magic) != snapshotMagic {
		if sr.err != nil {
			return fmt.Errorf("join restore: %w", sr.err)
		}
		return errors.New("join restore: not a join snapshot")
	}
	for _, v := range snapshotLayout {
		if got := sr.u64(); got != uint64(v) {
			if sr.err != nil {
				return fmt.Errorf("join restore: %w", sr.err)
			}
			return ErrSnapshotLayout
		}
	}
	p.slab = slabOf(fromBytes[entry](sr.raw()))
	nw := sr.u64()
	for range min(nw, 1<<40) {
		if sr.err != nil {
			break
		}
		k, w := sr.raw(), fromBytes[[numTimes]int64](sr.raw())
		if len(k) != traceCap || len(w) != 1 {
			sr.err = errors.New("malformed wide times")
			break
		}
		p.wide[traceKey(k)] = w[0]
	}
	ne := sr.u64()
	for range min(ne, 1<<40) {
		if sr.err != nil {
			break
		}
		h := sr.u64()
		x := fromBytes[extraIDs](sr.raw())
		if len(x) != 1 || x[0].n == 0 || x[0].n > maxExtraIDs {
			sr.err = errors.New("malformed further event ids")
			break
		}
		p.extra[h] = x[0]
	}
	p.byPayouts.h = fromBytes[timer](sr.raw())
	p.byClearing.h = fromBytes[timer](sr.raw())
	p.byAuth.h = fromBytes[timer](sr.raw())
	p.purges.h = fromBytes[timer](sr.raw())
	n := sr.u64()
	for range min(n, 1<<40) {
		if sr.err != nil {
			break
		}
		h := sr.u64()
		t := fromBytes[tombstone](sr.raw())
		if len(t) == 1 {
			p.tombstones.put(h, t[0])
		}
	}
	p.tombTimers.h = fromBytes[tomb](sr.raw())
	p.names = internOf(sr.strings())
	p.termIDs = internOf(sr.strings())
	p.codes = internOf(sr.strings())
	for s := range event.NumSources {
		p.wm[s] = fromBytes[int64](sr.raw())
	}
	for s := range event.NumSources {
		p.wmMin[s] = sr.i64()
	}
	p.now = sr.i64()
	nb := sr.u64()
	for range min(nb, 1<<20) {
		if sr.err != nil {
			break
		}
		b := sr.batch()
		p.batches[b.key] = b
	}
	if st := fromBytes[Stats](sr.raw()); len(st) == 1 {
		p.stats = st[0]
	}
	if sr.err != nil {
		return fmt.Errorf("join restore: %w", sr.err)
	}
	// The index and free list follow from the slab.
	open := 0
	p.slab.each(func(_ int32, part []entry) {
		for i := range part {
			if part[i].keyLen > 0 {
				open++
			}
		}
	})
	p.index.reserve(open)
	p.slab.each(func(first int32, part []entry) {
		for i := range part {
			if e, slot := &part[i], first+int32(i); e.keyLen > 0 {
				h := keyHash(&e.key)
				if s, pos := p.index.find(h, &e.key, &p.slab); s < 0 {
					p.index.insert(h, slot, pos)
				}
			} else {
				p.free = append(p.free, slot)
			}
		}
	})
	return nil
}

func asBytes[T any](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), uintptr(len(s))*unsafe.Sizeof(s[0]))
}

// fromBytes copies b into a new []T; trailing bytes that do not fill a T
// make it return nil (a corrupt snapshot: the reader's error says so).
func fromBytes[T any](b []byte) []T {
	var zero T
	size := int(unsafe.Sizeof(zero))
	if len(b) == 0 || len(b)%size != 0 {
		return nil
	}
	out := make([]T, len(b)/size)
	copy(asBytes(out), b)
	return out
}

func internOf(names []string) intern {
	in := newIntern()
	for _, n := range names {
		in.id(n)
	}
	return in
}

type snapWriter struct {
	w   *bufio.Writer
	err error
	buf [binary.MaxVarintLen64]byte
}

func (w *snapWriter) u64(v uint64) {
	if w.err == nil {
		_, w.err = w.w.Write(binary.AppendUvarint(w.buf[:0], v))
	}
}

func (w *snapWriter) i64(v int64) {
	if w.err == nil {
		_, w.err = w.w.Write(binary.AppendVarint(w.buf[:0], v))
	}
}

func (w *snapWriter) raw(b []byte) {
	w.u64(uint64(len(b)))
	if w.err == nil {
		_, w.err = w.w.Write(b)
	}
}

// entries writes the slab's entries as raw writes one array of them: the
// chunks are not part of the format.
func (w *snapWriter) entries(s *slab) {
	w.u64(uint64(s.len()) * uint64(entrySize))
	s.each(func(_ int32, part []entry) {
		if w.err == nil {
			_, w.err = w.w.Write(asBytes(part))
		}
	})
}

func (w *snapWriter) str(s string) { w.raw(unsafe.Slice(unsafe.StringData(s), len(s))) }

func (w *snapWriter) strings(list []string) {
	w.u64(uint64(len(list)))
	for _, s := range list {
		w.str(s)
	}
}

func (w *snapWriter) timers(h timerHeap) { w.raw(asBytes(h)) }

func (w *snapWriter) bool(b bool) {
	if b {
		w.u64(1)
	} else {
		w.u64(0)
	}
}

func (w *snapWriter) batch(b *batch) {
	w.u64(uint64(b.key.source))
	w.str(b.key.id)
	w.raw(asBytes(b.pending.appendTo(nil)))
	w.u64(uint64(b.seen.len()))
	b.seen.each(w.u64)
	for _, f := range []bool{b.opened, b.closed, b.stalled, b.done} {
		w.bool(f)
	}
	for _, v := range []int64{b.openedAt, b.closedAt, b.declaredCount, b.declaredTotal, b.count, b.total,
		b.first, b.last, b.evalAt, b.stalls, b.stallAt, b.lastRow} {
		w.i64(v)
	}
	w.str(string(b.rowStatus))
}

type snapReader struct {
	r   *bufio.Reader
	err error
}

func (r *snapReader) u64() uint64 {
	if r.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(r.r)
	r.err = err
	return v
}

func (r *snapReader) i64() int64 {
	if r.err != nil {
		return 0
	}
	v, err := binary.ReadVarint(r.r)
	r.err = err
	return v
}

// maxSection bounds one section (the trace slab of tens of millions of
// traces fits), so a corrupt length cannot ask for all memory.
const maxSection = 64 << 30

func (r *snapReader) raw() []byte {
	n := r.u64()
	if r.err != nil {
		return nil
	}
	if n > maxSection {
		r.err = fmt.Errorf("section of %d bytes is implausible", n)
		return nil
	}
	b := make([]byte, n)
	_, r.err = io.ReadFull(r.r, b)
	return b
}

func (r *snapReader) str() string { return string(r.raw()) }

func (r *snapReader) strings() []string {
	n := r.u64()
	var out []string
	for range min(n, 1<<32) {
		if r.err != nil {
			break
		}
		out = append(out, r.str())
	}
	return out
}

func (r *snapReader) bool() bool { return r.u64() != 0 }

func (r *snapReader) batch() *batch {
	b := &batch{}
	b.key.source = event.Source(r.u64())
	b.key.id = r.str()
	b.pending = progressQueueOf(fromBytes[progress](r.raw()))
	n := r.u64()
	for range min(n, 1<<32) {
		if r.err != nil {
			break
		}
		b.seen.add(r.u64())
	}
	b.opened, b.closed, b.stalled, b.done = r.bool(), r.bool(), r.bool(), r.bool()
	for _, v := range []*int64{&b.openedAt, &b.closedAt, &b.declaredCount, &b.declaredTotal, &b.count, &b.total,
		&b.first, &b.last, &b.evalAt, &b.stalls, &b.stallAt, &b.lastRow} {
		*v = r.i64()
	}
	b.rowStatus = fact.BatchStatus(r.str())
	if b.done {
		b.seen, b.pending = idSet{}, progressQueue{}
	}
	return b
}
