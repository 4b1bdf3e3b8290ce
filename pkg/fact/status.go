package fact

// Stages is what is known about one trace's stages, as far as its lag status
// depends on them. The join fills it from its entry, explain from the raw
// archives, the lag row and the open anomalies.
type Stages struct {
	Paid                bool // the bank confirmed the payout (wins over Failed)
	Failed              bool // the payout failed or was returned
	OverdueOpen         bool // the payout is reported overdue: payout_overdue is open
	ClearingMissingOpen bool // clearing_missing is open
}

// Status derives a trace's lag status, with the precedence paid > failed >
// overdue > clearing_missing, and the status's rank for Version: a later
// stage ranks higher, so its row wins. It returns "" and 0 when the stages
// call for no status (the trace is pending, or nothing is known).
func (s Stages) Status() (LagStatus, uint8) {
	switch {
	case s.Paid:
		return StatusPaid, 4
	case s.Failed:
		return StatusFailed, 3
	case s.OverdueOpen:
		return StatusOverdue, 2
	case s.ClearingMissingOpen:
		return StatusClearingMissing, 1
	}
	return "", 0
}
