//go:build integration

package store_test

import (
	"math"
	"testing"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
	"settlemon/pkg/store"
	"settlemon/pkg/store/storetest"
)

// TestMoneyAtTheLimit: amounts at the Decimal(18,2) limit are stored and read
// back exactly, and a total over many of them saturates instead of wrapping.
func TestMoneyAtTheLimit(t *testing.T) {
	ctx := testCtx(t)
	s := storetest.New(t)
	const t0 = int64(1_760_000_000_000)
	var rows []fact.Anomaly
	for _, tr := range []string{"A", "B", "C", "D", "E", "F", "G", "H", "I", "J"} {
		rows = append(rows, fact.Anomaly{ID: "payout_overdue:" + tr, Kind: fact.PayoutOverdue, Status: fact.Open, TraceNo: tr,
			Amount: event.MaxFen, ExpectedAmount: -event.MaxFen, DetectedAt: t0, Version: 1})
	}
	if err := s.InsertAnomalies(ctx, rows); err != nil {
		t.Fatal(err)
	}
	got, err := s.LatestAnomalies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range got {
		if a.Amount != event.MaxFen || a.ExpectedAmount != -event.MaxFen {
			t.Errorf("%s: amounts %d, %d; want ±%d", a.ID, a.Amount, a.ExpectedAmount, int64(event.MaxFen))
		}
	}
	n, amount, err := s.OpenAnomalyTotal(ctx, fact.PayoutOverdue)
	if err != nil {
		t.Fatal(err)
	}
	if n != 10 || amount != math.MaxInt64 {
		t.Errorf("open overdue = %d for %d fen, want 10 for the saturated %d", n, amount, int64(math.MaxInt64))
	}
}

// TestUnknownBankCodes: payout failures keep their bank code and catalogue
// version through ClickHouse, and the codes the catalogue lacked are listed
// by frequency, over the latest version of each anomaly only.
func TestUnknownBankCodes(t *testing.T) {
	ctx := testCtx(t)
	s := storetest.New(t)
	const t0 = int64(1_760_000_000_000)
	failed := func(tr, code string, unknown bool, st fact.AnomalyStatus, v uint64) fact.Anomaly {
		return fact.Anomaly{ID: "payout_failed:" + tr, Kind: fact.PayoutFailed, Status: st, TraceNo: tr, Reason: "other",
			DetectedAt: t0, BankCode: code, BankCodesVersion: "cn-bank-return-codes-2026.1", BankCodeUnknown: unknown, Version: v}
	}
	rows := []fact.Anomaly{
		failed("A", "E_NEW", true, fact.Open, 1), failed("B", "E_NEW", true, fact.Open, 1),
		failed("B", "E_NEW", true, fact.Resolved, 2), // a later version of B: still one failure
		failed("C", "X9", true, fact.Open, 1), failed("D", "R02", false, fact.Open, 1),
		{ID: "amount_mismatch:E:cleared", Kind: fact.AmountMismatch, Status: fact.Open, TraceNo: "E", DetectedAt: t0, Version: 1},
	}
	if err := s.InsertAnomalies(ctx, rows); err != nil {
		t.Fatal(err)
	}
	codes, total, err := s.UnknownBankCodes(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if total != 3 || len(codes) != 2 || codes[0].Code != "E_NEW" || codes[0].Payouts != 2 || codes[1].Code != "X9" ||
		codes[0].CatalogVersion != "cn-bank-return-codes-2026.1" || codes[0].LatestFailedAtS != t0/1000 {
		t.Errorf("unknown codes %+v, total %d", codes, total)
	}
	if _, total, err := s.UnknownBankCodes(ctx, 1); err != nil || total != 3 {
		t.Errorf("limited to one code: total %d, %v; want 3", total, err)
	}
	got, err := s.LatestAnomalies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range got {
		if a.ID == "payout_failed:D" && (a.BankCode != "R02" || a.BankCodeUnknown || a.BankCodesVersion == "") {
			t.Errorf("payout_failed:D read back as %+v", a)
		}
		if a.ID == "payout_failed:A" && (a.BankCode != "E_NEW" || !a.BankCodeUnknown) {
			t.Errorf("payout_failed:A read back as %+v", a)
		}
	}
}

// TestAddColumnTwice: on the real server, an ADD COLUMN whose column exists
// fails with the code the migrator treats as done, so a migration
// interrupted after its ALTERs is applied again.
func TestAddColumnTwice(t *testing.T) {
	ctx := testCtx(t)
	s := storetest.New(t)
	stmt := "ALTER TABLE anomalies ADD COLUMN bank_code String DEFAULT ''"
	err := s.Conn().Exec(ctx, stmt)
	if err == nil {
		t.Fatal("adding an existing column succeeded")
	}
	if !store.ColumnExists(stmt, err) {
		t.Errorf("the server's answer %v is not recognised as column-exists", err)
	}
	if _, err := s.Migrate(ctx); err != nil {
		t.Errorf("migrating again: %v", err)
	}
}
