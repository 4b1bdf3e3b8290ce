package simulator

// op is what a queued item does when its time comes.
type op uint8

const (
	opMerchant   op = iota // a: merchant index
	opDay                  // a: traffic day index: generate the day's sales
	opAuth                 // a, b: trace (day, index)
	opClearOpen            // a: batch index
	opCleared              // a, b: trace
	opClearClose           // a: batch index
	opPayOpen              // a: batch index
	opPayInit              // a, b: trace
	opPayPaid              // a, b: trace
	opPayFailed            // a, b: trace
	opPayClose             // a: batch index
	opHeartbeat
	opAuthDup     // a, b: trace: the injected second authorization
	opReversal    // a, b: trace
	opPayHeld     // a, b: trace
	opPayReleased // a, b: trace
	opPayLate     // a, b: trace: the late re-sent payout_paid
	opOutageEnd   // publish what the payout outage held back
)

// item is a pending event or action, ordered by time, then the end of an
// outage first (what it held back precedes anything else published then),
// events before heartbeats, then the order in which items were queued.
type item struct {
	at   int64 // unix ms
	seq  uint64
	a, b int32
	op   op
}

func (x *item) less(y *item) bool {
	if x.at != y.at {
		return x.at < y.at
	}
	if ex, ey := x.op == opOutageEnd, y.op == opOutageEnd; ex != ey {
		return ex
	}
	if hx, hy := x.op == opHeartbeat, y.op == opHeartbeat; hx != hy {
		return hy
	}
	return x.seq < y.seq
}

// queue is a binary min-heap of items. Items are pointer-free, so a large
// queue costs the garbage collector nothing.
type queue struct {
	items []item
	seq   uint64
}

func (q *queue) len() int { return len(q.items) }

func (q *queue) push(it item) {
	q.seq++
	it.seq = q.seq
	q.items = append(q.items, it)
	h := q.items
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].less(&h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (q *queue) pop() item {
	h := q.items
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h[r].less(&h[l]) {
			m = r
		}
		if !h[m].less(&h[i]) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	q.items = h
	return top
}
