package chaos

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"settlemon/pkg/kafkaio"
)

func TestKafkaError(t *testing.T) {
	tests := []struct {
		name     string
		wantCode int16
		wantErr  bool
	}{
		{"NOT_LEADER_FOR_PARTITION", 6, false},
		{"not_leader_for_partition", 6, false},
		{"UNKNOWN_SERVER_ERROR", -1, false},
		{"REQUEST_TIMED_OUT", 7, false},
		{"NO_SUCH_ERROR", 0, true},
	}
	for _, tt := range tests {
		got, err := KafkaError(tt.name)
		if (err != nil) != tt.wantErr {
			t.Fatalf("KafkaError(%q) error %v, want error %v", tt.name, err, tt.wantErr)
		}
		if err == nil && got.Code != tt.wantCode {
			t.Errorf("KafkaError(%q) = code %d, want %d", tt.name, got.Code, tt.wantCode)
		}
	}
}

func TestFaultConfigValidate(t *testing.T) {
	tests := []struct {
		cfg     FaultConfig
		wantErr bool
	}{
		{FaultConfig{}, false},
		{FaultConfig{ProduceAmbiguousRate: 1, FetchErrorRate: 0.5, FetchError: "UNKNOWN_SERVER_ERROR"}, false},
		{FaultConfig{ProduceAmbiguousRate: 1.5}, true},
		{FaultConfig{FetchErrorRate: -0.1}, true},
		{FaultConfig{FetchError: "nonsense"}, true},
	}
	for _, tt := range tests {
		if err := tt.cfg.Validate(); (err != nil) != tt.wantErr {
			t.Errorf("%+v: Validate() = %v, want error %v", tt.cfg, err, tt.wantErr)
		}
	}
}

// TestAmbiguousProduceStoresTheBatch: with every produce to one topic
// faulted, kafka-go's write fails although the broker appended the records,
// another topic is untouched, and switching the fault off ends it.
func TestAmbiguousProduceStoresTheBatch(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "faulted", "clean"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f, err := NewFaults(c, FaultConfig{ProduceAmbiguousRate: 1, ProduceTopics: []string{"faulted"}})
	if err != nil {
		t.Fatal(err)
	}
	k := kafkaio.DefaultConfig()
	k.Brokers = c.ListenAddrs()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	write := func(topic string) error {
		w, err := kafkaio.NewWriter(k, topic, kafkaio.WriterConfig{MaxAttempts: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		return w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte("v")})
	}
	stored := func(topic string) int64 {
		offs, err := kafkaio.TopicOffsets(ctx, k, topic)
		if err != nil {
			t.Fatal(err)
		}
		return offs[0].End - offs[0].First
	}

	if err := write("faulted"); err == nil {
		t.Fatal("write to the faulted topic succeeded; want the ambiguous error")
	}
	if n := stored("faulted"); n != 1 {
		t.Fatalf("faulted topic holds %d records after the failed write, want 1 (written, then answered with an error)", n)
	}
	if err := write("clean"); err != nil {
		t.Fatalf("write to the topic without faults: %v", err)
	}
	if st := f.State(); st.ProduceAmbiguous != 1 {
		t.Fatalf("state %+v, want 1 faulted produce", st)
	}
	if err := f.Set(FaultRates{}); err != nil {
		t.Fatal(err)
	}
	if err := write("faulted"); err != nil {
		t.Fatalf("write after the fault was switched off: %v", err)
	}
	if n := stored("faulted"); n != 2 {
		t.Fatalf("faulted topic holds %d records, want 2", n)
	}
}

func TestFaultControlEndpoint(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f, err := NewFaults(c, FaultConfig{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()
	tests := []struct {
		method, body string
		wantStatus   int
		wantRates    FaultRates
	}{
		{http.MethodGet, "", http.StatusOK, FaultRates{}},
		{http.MethodPut, `{"produce_ambiguous_rate":0.25,"fetch_error_rate":0.5}`, http.StatusOK, FaultRates{0.25, 0.5}},
		{http.MethodPut, `{"produce_ambiguous_rate":2}`, http.StatusBadRequest, FaultRates{0.25, 0.5}},
		{http.MethodPut, `{"bogus":1}`, http.StatusBadRequest, FaultRates{0.25, 0.5}},
		{http.MethodDelete, "", http.StatusMethodNotAllowed, FaultRates{0.25, 0.5}},
		{http.MethodPut, `{}`, http.StatusOK, FaultRates{}},
	}
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, srv.URL+"/faults", strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == http.StatusOK {
			var st FaultState
			if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
				t.Fatal(err)
			}
			if st.FaultRates != tt.wantRates {
				t.Errorf("%s %s: answered rates %+v, want %+v", tt.method, tt.body, st.FaultRates, tt.wantRates)
			}
		}
		resp.Body.Close()
		if resp.StatusCode != tt.wantStatus {
			t.Errorf("%s %s: status %d, want %d", tt.method, tt.body, resp.StatusCode, tt.wantStatus)
		}
		if got := f.State().FaultRates; got != tt.wantRates {
			t.Errorf("%s %s: rates now %+v, want %+v", tt.method, tt.body, got, tt.wantRates)
		}
	}
	if err := f.Set(FaultRates{FetchErrorRate: -1}); err == nil {
		t.Error("Set accepted a negative rate")
	}
}
