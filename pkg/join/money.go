package join

import (
	"math/bits"

	"settlemon/pkg/fact"
)

// The money rules: amount_mismatch (a clearing that differs from its
// authorization, a payment that differs from the clearing net of its fee, or
// either in another currency), and against the merchant's contract
// fee_rate_deviation and mcc_mismatch. Each is a fact of what arrived, open
// for good.
//
// Money arithmetic. Amounts are int64 fen of at most event.MaxFen
// (Decimal(18,2): 999,999,999,999,999,999 fen), and rates are parts per
// million, so a product amount × rate reaches about 10^24: beyond int64.
// Products and the divisions that follow them are therefore done in 128
// bits (math/bits), and sums are saturated, so no money figure ever wraps.

const ppmScale = 1_000_000

// mulDiv returns ⌊a × b / d⌋ for a, b ≥ 0 and d > 0, and whether the
// quotient fits in an int64 (when it does not, the result is
// math.MaxInt64). Negative inputs count as 0.
func mulDiv(a, b, d int64) (int64, bool) {
	q, _, ok := mulDivRem(a, b, d)
	return q, ok
}

// mulDivCeil returns ⌈a × b / d⌉ under the rules of mulDiv.
func mulDivCeil(a, b, d int64) (int64, bool) {
	q, r, ok := mulDivRem(a, b, d)
	if ok && r != 0 {
		if q == 1<<63-1 {
			return q, false
		}
		q++
	}
	return q, ok
}

// mulDivRound returns a × b / d rounded half up, under the rules of mulDiv.
func mulDivRound(a, b, d int64) (int64, bool) {
	q, r, ok := mulDivRem(a, b, d)
	if ok && uint64(r) >= uint64(d)-uint64(r) { // 2r ≥ d, without overflow
		if q == 1<<63-1 {
			return q, false
		}
		q++
	}
	return q, ok
}

func mulDivRem(a, b, d int64) (q, r int64, ok bool) {
	if d <= 0 {
		panic("join: mulDiv by a non-positive divisor")
	}
	if a <= 0 || b <= 0 {
		return 0, 0, true
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi >= uint64(d) {
		return 1<<63 - 1, 0, false // the quotient needs more than 64 bits
	}
	uq, ur := bits.Div64(hi, lo, uint64(d))
	if uq > 1<<63-1 {
		return 1<<63 - 1, 0, false
	}
	return int64(uq), int64(ur), true
}

// addFen returns a + b for non-negative fen, saturated at limit: a sum that
// would pass limit (and a sum that would wrap) is limit.
func addFen(a, b, limit int64) int64 {
	if b > limit-a {
		return limit
	}
	return a + b
}

// maxFee is the largest fee in fen the fee rule allows on amount at a
// contracted rate plus tolerance of ratePPM: ⌈amount × ratePPM / 10^6⌉.
// The rule is exact at every amount up to event.MaxFen.
func maxFee(amount, ratePPM int64) int64 {
	v, _ := mulDivCeil(amount, ratePPM, ppmScale) // fits: ratePPM < 2·10^6 (Config.Validate)
	return v
}

// contractFee is the fee the contracted rate gives on amount, rounded half
// up to the fen.
func contractFee(amount, ratePPM int64) int64 {
	v, _ := mulDivRound(amount, ratePPM, ppmScale)
	return v
}

// feeRatePPM is fee / amount in parts per million, rounded down (0 for a
// zero amount); fee ≤ amount keeps it within 10^6.
func feeRatePPM(fee, amount int64) int64 {
	if amount <= 0 {
		return 0
	}
	v, _ := mulDiv(fee, ppmScale, amount)
	return v
}

// currency is an ISO 4217 code held in 16 bits, so the pointer-free entry
// can keep one per stage: 0 is CNY, the contract's currency when an event
// names none; any other code of three capital letters is 1 + its base-26
// value.
type currency uint16

// currencyOf encodes an ISO 4217 code as Decode validated it ("" or three
// capital letters); "" and "CNY" are CNY.
func currencyOf(code string) currency {
	if code == "" || code == "CNY" || len(code) != 3 {
		return 0
	}
	v := 0
	for i := range 3 {
		c := code[i]
		if c < 'A' || c > 'Z' {
			return 0
		}
		v = v*26 + int(c-'A')
	}
	return currency(v + 1)
}

func (c currency) String() string {
	if c == 0 {
		return "CNY"
	}
	v := int(c) - 1
	return string([]byte{byte('A' + v/676), byte('A' + v/26%26), byte('A' + v%26)})
}

// checkAmounts compares a clearing with its authorization and a payment with
// the clearing net of its fee, and their currencies: an amount in another
// currency than the stage before it is a mismatch whatever the figures say.
func (p *Partition) checkAmounts(e *entry) {
	if !e.has(slotCleared) {
		return
	}
	if e.has(slotAuth) && !e.is(flagMismatchClear) && (e.clearedCur != e.authCur || e.clearedAmt != e.authAmt) {
		e.flags |= flagMismatchClear
		reason := "cleared_differs"
		if e.clearedCur != e.authCur {
			reason = "cleared_currency_differs"
		}
		p.open(p.traceAnomaly(e, fact.AmountMismatch, "cleared", max(p.time(e, tAuth), p.time(e, tCleared)), e.clearedAmt, e.authAmt, reason,
			fact.Args{Currency: e.clearedCur.String(), ExpectedCurrency: e.authCur.String()}))
	}
	if net := e.clearedAmt - e.fee; e.has(slotPaid) && !e.is(flagMismatchNet) && (e.paidCur != e.clearedCur || e.paidAmt != net) {
		e.flags |= flagMismatchNet
		reason := "net_differs"
		if e.paidCur != e.clearedCur {
			reason = "paid_currency_differs"
		}
		p.open(p.traceAnomaly(e, fact.AmountMismatch, "paid", max(p.time(e, tCleared), p.time(e, tPaid)), e.paidAmt, net, reason,
			fact.Args{ClearedAmount: e.clearedAmt, Fee: e.fee, Currency: e.paidCur.String(), ExpectedCurrency: e.clearedCur.String()}))
	}
}

// checkContract checks a clearing's fee and MCC: a fee larger than the
// cleared amount is wrong under any contract; against the merchant's
// contract, the fee rule and the registered MCC.
//
// The fee rule: a fee is within the contract when, in fen,
//
//	fee ≤ ⌈amount × (rate + tolerance) / 10⁶⌉
//
// with the rate and tolerance in parts per million: the contracted rate plus
// the tolerance, rounded up to the next whole fen, and not one fen more. It
// is computed in 128 bits, exact up to the Decimal(18,2) limit.
func (p *Partition) checkContract(e *entry) {
	if !e.has(slotCleared) {
		return
	}
	if !e.is(flagFeeChecked) && e.fee > e.clearedAmt {
		e.flags |= flagFeeChecked
		var want int64
		if prof, ok := p.merchants.Lookup(p.names.name(e.merchant)); ok {
			want = contractFee(e.clearedAmt, prof.FeeRatePPM)
		}
		p.open(p.traceAnomaly(e, fact.FeeRateDeviation, "", p.time(e, tCleared), e.fee, want, "fee_exceeds_amount",
			fact.Args{ClearedAmount: e.clearedAmt, Fee: e.fee}))
	}
	if e.is(flagFeeChecked) && e.is(flagMCCChecked) {
		return
	}
	prof, ok := p.merchants.Lookup(p.names.name(e.merchant))
	if !ok {
		return // no contract to compare with; the profile gap is counted at authorization
	}
	if !e.is(flagFeeChecked) {
		e.flags |= flagFeeChecked
		if e.fee > maxFee(e.clearedAmt, prof.FeeRatePPM+p.cfg.FeeTolerancePPM) {
			p.open(p.traceAnomaly(e, fact.FeeRateDeviation, "", p.time(e, tCleared), e.fee, contractFee(e.clearedAmt, prof.FeeRatePPM), "fee_above_contract",
				fact.Args{ClearedAmount: e.clearedAmt, Fee: e.fee, FeeRatePPM: feeRatePPM(e.fee, e.clearedAmt), ContractRatePPM: prof.FeeRatePPM}))
		}
	}
	if !e.is(flagMCCChecked) {
		e.flags |= flagMCCChecked
		if reg := parseMCC(prof.RegisteredMCC); reg != 0 && e.clearedMCC != 0 && e.clearedMCC != reg {
			mcc := fmtMCC(e.clearedMCC)
			p.scratch = append(append(p.scratch[:0], "mcc_"...), mcc...)
			p.open(p.traceAnomaly(e, fact.MCCMismatch, "", p.time(e, tCleared), e.clearedAmt, 0, p.strs.of(p.scratch),
				fact.Args{MCC: mcc, RegisteredMCC: prof.RegisteredMCC}))
		}
	}
}
