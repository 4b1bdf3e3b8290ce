package event

import "bytes"

// knownFields are the JSON names of the wire fields, in wire order; a
// field's index is its bit in the duplicate check of wire.parse.
var knownFields = [...]string{
	"event_id", "type", "occurred_at", "trace_no", "merchant_id", "terminal_id", "response_code",
	"card_bin", "card_last4", "currency", "amount", "fee", "mcc", "batch_id", "declared_count",
	"declared_total", "reason_code", "reason", "producer", "merchant_name", "registered_mcc",
	"settlement_mode", "fee_rate", "account_ref",
}

// field returns the index in knownFields of the field named exactly name and
// where it is held in w, or -1, nil for any other name.
func (w *wire) field(name []byte) (int, *wval) {
	switch string(name) {
	case "event_id":
		return 0, &w.EventID
	case "type":
		return 1, &w.Type
	case "occurred_at":
		return 2, &w.OccurredAt
	case "trace_no":
		return 3, &w.TraceNo
	case "merchant_id":
		return 4, &w.MerchantID
	case "terminal_id":
		return 5, &w.TerminalID
	case "response_code":
		return 6, &w.ResponseCode
	case "card_bin":
		return 7, &w.CardBIN
	case "card_last4":
		return 8, &w.CardLast4
	case "currency":
		return 9, &w.Currency
	case "amount":
		return 10, &w.Amount
	case "fee":
		return 11, &w.Fee
	case "mcc":
		return 12, &w.MCC
	case "batch_id":
		return 13, &w.BatchID
	case "declared_count":
		return 14, &w.DeclaredCount
	case "declared_total":
		return 15, &w.DeclaredTotal
	case "reason_code":
		return 16, &w.ReasonCode
	case "reason":
		return 17, &w.Reason
	case "producer":
		return 18, &w.Producer
	case "merchant_name":
		return 19, &w.MerchantName
	case "registered_mcc":
		return 20, &w.RegisteredMCC
	case "settlement_mode":
		return 21, &w.Mode
	case "fee_rate":
		return 22, &w.FeeRate
	case "account_ref":
		return 23, &w.AccountRef
	}
	return -1, nil
}

// misspelt returns the error for a top-level key that is not a known field
// but matches one without regard to case, or nil. Such keys make a payload
// ambiguous: encoding/json, and readers like it, match names without regard
// to case, so {"amount":"1.00","AMOUNT":"1000.00"} would read as 1000.00
// elsewhere while a schema-based reader sees 1.00. The match is Unicode
// simple folding, as encoding/json's ("ſ" is "s", "K" is "k").
func misspelt(name []byte) *Error {
	// Only an upper-case ASCII letter or a non-ASCII byte can make a name
	// that is not a known field fold to one: skip the common case fast.
	fold := false
	for _, b := range name {
		if b >= 'A' && b <= 'Z' || b >= 0x80 {
			fold = true
			break
		}
	}
	if !fold {
		return nil
	}
	for _, f := range knownFields {
		if bytes.EqualFold([]byte(f), name) {
			return newError(ReasonBadField, f,
				"is misspelt as "+quoteShort(string(name))+" (field names are case-sensitive)")
		}
	}
	return nil
}
