package simulator

import (
	"math/rand/v2"
	"sort"
	"strconv"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
)

// weighted picks an index with probability proportional to integer weights.
type weighted struct {
	cum []int64 // running sums
}

func newWeighted(w []int64) weighted {
	cum := make([]int64, len(w))
	var s int64
	for i, v := range w {
		s += v
		cum[i] = s
	}
	return weighted{cum: cum}
}

func (w weighted) pick(r *rand.Rand) int {
	x := r.Int64N(w.cum[len(w.cum)-1])
	return sort.Search(len(w.cum), func(i int) bool { return w.cum[i] > x })
}

// category is a merchant category: its MCC, the Chinese word used in
// merchant names, how common it is and whether its tickets are large.
type category struct {
	mcc    string
	noun   string
	weight int64
	large  bool
}

var categories = []category{
	{"5411", "超市", 20, false},   // grocery stores, supermarkets
	{"5812", "餐厅", 22, false},   // restaurants
	{"5814", "快餐", 10, false},   // fast food
	{"5311", "百货", 6, true},     // department stores
	{"5999", "便利店", 12, false},  // miscellaneous retail
	{"7011", "酒店", 5, true},     // hotels
	{"4121", "出租车服务", 4, false}, // taxis
	{"5541", "加油站", 6, false},   // service stations
	{"5912", "大药房", 6, false},   // pharmacies
	{"5732", "数码电器", 4, true},   // electronics
	{"5691", "服饰", 3, true},     // clothing
	{"7230", "美发沙龙", 2, false},  // beauty and barber shops
}

var (
	districts = []string{"朝阳", "浦东", "天河", "南山", "西湖", "锦江", "武侯", "鼓楼", "江汉", "雨花", "海淀", "徐汇", "越秀", "福田", "滨江"}
	brands    = []string{"鑫源", "福满", "华联", "佳美", "金桥", "老王", "永盛", "惠民", "百顺", "丰泽", "嘉禾", "和润"}
)

// Settlement mode mix (T1 60%, D1 25%, D0 15%) and fee rates in parts per
// million (0.6% 70%, 0.38% 25%, public-welfare 0% 5%).
var (
	modes       = []event.Mode{event.T1, event.D1, event.D0}
	modeWeights = []int64{60, 25, 15}
	feeRates    = []int64{6000, 3800, 0}
	feeWeights  = []int64{70, 25, 5}
)

// Amount distributions in fen: a band is picked by weight, then an amount
// uniformly inside it. Both are right-skewed; large-ticket categories
// (hotels, electronics, department stores) sit higher.
type band struct{ lo, hi int64 } // [lo, hi)

var (
	smallBands   = []band{{500, 1500}, {1500, 3000}, {3000, 6000}, {6000, 12000}, {12000, 30000}, {30000, 80000}, {80000, 200000}, {200000, 2000001}}
	smallWeights = []int64{18, 22, 22, 16, 12, 6, 3, 1}
	largeBands   = []band{{1000, 5000}, {5000, 20000}, {20000, 50000}, {50000, 100000}, {100000, 300000}, {300000, 800000}, {800000, 2000001}}
	largeWeights = []int64{6, 18, 24, 20, 18, 10, 4}
)

// Hourly weights of the daily curve, local time: quiet at night, peaks at
// lunch and in the evening.
var hourWeights = []int64{
	10, 5, 3, 2, 2, 3, 8, 20, 35, 40, 45, 60, // 00..11
	80, 65, 45, 40, 40, 50, 70, 85, 75, 55, 35, 20, // 12..23
}

// Decline response codes: insufficient funds, do not honour, incorrect PIN,
// expired card, invalid card, exceeds amount limit.
var (
	declineCodes   = []string{"51", "05", "55", "54", "14", "61"}
	declineWeights = []int64{40, 25, 15, 8, 6, 6}
)

// UnionPay debit and credit card BINs commonly seen in mainland China.
var cardBINs = []string{"622848", "622202", "621700", "622700", "621483", "622588", "622262", "621661", "622609", "625919", "436742", "456351"}

// Payout failure reasons, chosen uniformly.
var failureReasons = []fact.PayoutFailure{
	fact.AccountInvalid, fact.NameMismatch, fact.AccountFrozen, fact.AccountClosed,
	fact.LimitExceeded, fact.RiskRestricted, fact.OtherFailure,
}

// Failure texts, as a bank's return file would carry them.
var failureTexts = map[fact.PayoutFailure]string{
	fact.AccountInvalid: "account does not exist",
	fact.NameMismatch:   "account holder name does not match",
	fact.AccountFrozen:  "account frozen",
	fact.AccountClosed:  "account closed",
	fact.LimitExceeded:  "amount exceeds account limit",
	fact.RiskRestricted: "restricted by risk control",
	fact.OtherFailure:   "returned by beneficiary bank",
}

// merchant is one generated merchant profile.
type merchant struct {
	id        string // "M000123"
	name      string
	mcc       string
	mode      event.Mode
	feePPM    int64
	terminals []string
	large     bool
}

// profiles draws the merchants and a picker weighting them by popularity.
func profiles(r *rand.Rand, n int) ([]merchant, weighted) {
	cats := make([]int64, len(categories))
	for i, c := range categories {
		cats[i] = c.weight
	}
	catW, modeW, feeW := newWeighted(cats), newWeighted(modeWeights), newWeighted(feeWeights)

	ms := make([]merchant, n)
	pop := make([]int64, n)
	for i := range ms {
		num := i + 1
		c := categories[catW.pick(r)]
		m := merchant{
			id:     "M" + pad(int64(num), 6),
			mcc:    c.mcc,
			mode:   modes[modeW.pick(r)],
			feePPM: feeRates[feeW.pick(r)],
			large:  c.large,
		}
		m.name = districts[r.IntN(len(districts))] + brands[r.IntN(len(brands))] + c.noun +
			"(" + strconv.Itoa(num%97+1) + "号店)"
		nt := 1 + r.IntN(4)
		for t := range nt {
			m.terminals = append(m.terminals, "T"+pad(int64(num), 6)+strconv.Itoa(t+1))
		}
		ms[i] = m
		// Popularity: a heavy tail, a few merchants take much of the traffic.
		x := r.Int64N(30)
		pop[i] = 1 + x*x
	}
	return ms, newWeighted(pop)
}

// amountPicker draws sale amounts in fen.
type amountPicker struct {
	small, large weighted
}

func newAmountPicker() amountPicker {
	return amountPicker{small: newWeighted(smallWeights), large: newWeighted(largeWeights)}
}

// draw returns an amount in fen between 5.00 and 20,000.00: most prices are
// whole yuan, some end in ten fen, the rest are arbitrary.
func (p amountPicker) draw(r *rand.Rand, large bool) int64 {
	var b band
	if large {
		b = largeBands[p.large.pick(r)]
	} else {
		b = smallBands[p.small.pick(r)]
	}
	a := b.lo + r.Int64N(b.hi-b.lo)
	switch x := r.IntN(10); {
	case x < 6:
		a -= a % 100
	case x < 8:
		a -= a % 10
	}
	return a
}

// Fee returns the fee in fen for amount fen at a rate in parts per million,
// rounded half up: Fee(100000, 6000) = 600 (0.6% of 1000.00 is 6.00).
// amount and ppm must not be negative.
func Fee(amount, ppm int64) int64 {
	return (amount*ppm + 500_000) / 1_000_000
}

// pad formats v with at least width digits, zero-padded.
func pad(v int64, width int) string {
	s := strconv.FormatInt(v, 10)
	for len(s) < width {
		s = "0" + s
	}
	return s
}
