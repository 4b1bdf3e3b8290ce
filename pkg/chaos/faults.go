package chaos

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FaultConfig is the broker-side fault injection of a dev broker
// (settlemon-dev broker): produce requests answered with an error although the
// broker wrote them (an ambiguous ack: the producer retries and stores the
// batch twice), and fetch requests answered with an error.
type FaultConfig struct {
	// ProduceAmbiguousRate is the share of produced partitions answered
	// REQUEST_TIMED_OUT after the records were appended.
	ProduceAmbiguousRate float64
	// ProduceTopics limits produce faults to these topics; empty: every
	// topic. The harness faults only the pipeline's own topics, so that the
	// simulated upstream stays identical to the reference run's.
	ProduceTopics []string
	// FetchErrorRate is the share of fetched partitions answered with
	// FetchError instead of records.
	FetchErrorRate float64
	// FetchError is the Kafka error name fetches fail with, default
	// NOT_LEADER_FOR_PARTITION (the reader reconnects and retries).
	FetchError string
	// Seed makes the fault pattern repeatable for a given request sequence.
	Seed uint64
}

// Validate reports a setting that cannot work.
func (c FaultConfig) Validate() error {
	if err := validRate(c.ProduceAmbiguousRate); err != nil {
		return fmt.Errorf("produce ambiguous rate: %w", err)
	}
	if err := validRate(c.FetchErrorRate); err != nil {
		return fmt.Errorf("fetch error rate: %w", err)
	}
	if c.FetchError != "" {
		if _, err := KafkaError(c.FetchError); err != nil {
			return err
		}
	}
	return nil
}

func validRate(r float64) error {
	if math.IsNaN(r) || r < 0 || r > 1 {
		return fmt.Errorf("%v is not between 0 and 1", r)
	}
	return nil
}

// KafkaError returns the Kafka protocol error called name (as in
// NOT_LEADER_FOR_PARTITION, case-insensitive).
func KafkaError(name string) (*kerr.Error, error) {
	want := strings.ToUpper(strings.TrimSpace(name))
	for code := int16(-1); code < 200; code++ {
		var ke *kerr.Error
		if errors.As(kerr.ErrorForCode(code), &ke) && ke.Message == want {
			return ke, nil
		}
	}
	return nil, fmt.Errorf("unknown Kafka error %q (want a protocol error name such as NOT_LEADER_FOR_PARTITION)", name)
}

// FaultRates are the rates that can be changed while the broker runs.
type FaultRates struct {
	ProduceAmbiguousRate float64 `json:"produce_ambiguous_rate"`
	FetchErrorRate       float64 `json:"fetch_error_rate"`
}

// FaultState is the current rates and how many requests were faulted so far.
type FaultState struct {
	FaultRates
	ProduceAmbiguous int `json:"produce_ambiguous"` // produce requests answered with an error after the append
	FetchErrors      int `json:"fetch_errors"`      // fetch requests answered with an error
}

// Faults injects faults into a kfake cluster at rates that can be changed
// while it runs.
type Faults struct {
	produceRate, fetchRate atomic.Uint64 // math.Float64bits

	mu  sync.Mutex // guards rng; kfake calls the filters on its own goroutine
	rng *rand.Rand

	produce, fetch *kfake.FaultHandle
}

// NewFaults installs the faults on cluster; rates of zero install them
// dormant, ready for Set.
func NewFaults(cluster *kfake.Cluster, cfg FaultConfig) (*Faults, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	fetchErr := kerr.NotLeaderForPartition
	if cfg.FetchError != "" {
		fetchErr, _ = KafkaError(cfg.FetchError)
	}
	f := &Faults{rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))}
	_ = f.Set(FaultRates{ProduceAmbiguousRate: cfg.ProduceAmbiguousRate, FetchErrorRate: cfg.FetchErrorRate}) // validated above

	topics := cfg.ProduceTopics
	if len(topics) == 0 {
		topics = []string{""} // every topic
	}
	var produce []kfake.Fault
	for _, t := range topics {
		produce = append(produce, kfake.Fault{
			Keys:  []kmsg.Key{kmsg.Produce},
			Topic: t,
			// Answered after the append (kfake applies produce requests
			// failed with REQUEST_TIMED_OUT): the ambiguous ack.
			Err:   kerr.RequestTimedOut,
			Count: -1,
			When:  func(kmsg.Request) bool { return f.roll(&f.produceRate) },
		})
	}
	f.produce = cluster.Fault(produce...)
	f.fetch = cluster.Fault(kfake.Fault{
		Keys:  []kmsg.Key{kmsg.Fetch},
		Err:   fetchErr,
		Count: -1,
		When:  func(kmsg.Request) bool { return f.roll(&f.fetchRate) },
	})
	return f, nil
}

func (f *Faults) roll(rate *atomic.Uint64) bool {
	r := math.Float64frombits(rate.Load())
	if r <= 0 {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rng.Float64() < r
}

// Set changes the rates; zero switches a fault off.
func (f *Faults) Set(r FaultRates) error {
	if err := validRate(r.ProduceAmbiguousRate); err != nil {
		return fmt.Errorf("produce ambiguous rate: %w", err)
	}
	if err := validRate(r.FetchErrorRate); err != nil {
		return fmt.Errorf("fetch error rate: %w", err)
	}
	f.produceRate.Store(math.Float64bits(r.ProduceAmbiguousRate))
	f.fetchRate.Store(math.Float64bits(r.FetchErrorRate))
	return nil
}

// State returns the rates and the faulted request counts.
func (f *Faults) State() FaultState {
	s := FaultState{FaultRates: FaultRates{
		ProduceAmbiguousRate: math.Float64frombits(f.produceRate.Load()),
		FetchErrorRate:       math.Float64frombits(f.fetchRate.Load()),
	}}
	if f.produce != nil {
		s.ProduceAmbiguous = f.produce.Hits()
	}
	if f.fetch != nil {
		s.FetchErrors = f.fetch.Hits()
	}
	return s
}

// Handler serves the fault control: GET /faults returns the FaultState as
// JSON, PUT /faults with FaultRates as JSON changes the rates.
func (f *Faults) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/faults", func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
		case http.MethodPut, http.MethodPost:
			var rates FaultRates
			dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&rates); err != nil {
				http.Error(w, "faults: "+err.Error(), http.StatusBadRequest)
				return
			}
			if err := f.Set(rates); err != nil {
				http.Error(w, "faults: "+err.Error(), http.StatusBadRequest)
				return
			}
		default:
			w.Header().Set("Allow", "GET, PUT")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(f.State())
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	return mux
}
