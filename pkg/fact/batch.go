package fact

// BatchStatus is where a clearing or payout batch stands.
type BatchStatus string

// Batch statuses.
const (
	BatchIsOpen       BatchStatus = "open"
	BatchIsStalled    BatchStatus = "stalled"
	BatchIsClosed     BatchStatus = "closed"     // closed with what it declared
	BatchIsIncomplete BatchStatus = "incomplete" // closed with fewer or more records, or another total
)

// Batch is a row of the batches table: the progress of one clearing or
// payout batch as of the event time AsOf. Money is fen, times Unix ms.
type Batch struct {
	BatchID       string
	Source        string // "clearing" or "payouts"
	Status        BatchStatus
	OpenedAt      int64
	ClosedAt      int64
	FirstProgress int64
	LastProgress  int64
	DeclaredCount int64
	DeclaredTotal int64
	SeenCount     int64
	SeenTotal     int64
	Stalls        int64 // stall episodes so far
	AsOf          int64 // the source watermark this row was evaluated at
	Version       uint64
}
