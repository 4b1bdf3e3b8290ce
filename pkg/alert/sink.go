package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Sink delivers notifications to one receiver. Send makes one attempt;
// retries are the caller's (see Retry).
type Sink interface {
	Name() string
	Send(ctx context.Context, n Notification) error
}

// StatusError is a receiver's non-2xx answer.
type StatusError struct {
	Code int
	Body string // the start of the response body
}

func (e *StatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("receiver answered %d %s", e.Code, http.StatusText(e.Code))
	}
	return fmt.Sprintf("receiver answered %d %s: %s", e.Code, http.StatusText(e.Code), e.Body)
}

// Temporary reports whether retrying may help: server errors, 408 and 429.
func (e *StatusError) Temporary() bool {
	return e.Code >= 500 || e.Code == http.StatusRequestTimeout || e.Code == http.StatusTooManyRequests
}

// RetryPolicy bounds the retries of one notification to one sink.
type RetryPolicy struct {
	Initial time.Duration // first wait; default 500ms
	Max     time.Duration // longest wait; default 10s
	Budget  time.Duration // total time before giving up; default 1m
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Initial <= 0 {
		p.Initial = 500 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 10 * time.Second
	}
	if p.Budget <= 0 {
		p.Budget = time.Minute
	}
	return p
}

// Retry sends n to s, retrying failures other than a permanent refusal (a
// 4xx other than 408 and 429) with exponential backoff until the policy's
// budget is spent or ctx ends. notify, when not nil, is called before each
// wait. It returns the number of attempts and the last error.
func Retry(ctx context.Context, s Sink, n Notification, p RetryPolicy, notify func(err error, wait time.Duration)) (int, error) {
	p = p.withDefaults()
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = p.Initial
	bo.MaxInterval = p.Max
	bo.MaxElapsedTime = p.Budget
	attempts := 0
	err := backoff.RetryNotify(func() error {
		attempts++
		err := s.Send(ctx, n)
		var se *StatusError
		if errors.As(err, &se) && !se.Temporary() {
			return backoff.Permanent(err)
		}
		return err
	}, backoff.WithContext(bo, ctx), notify)
	return attempts, err
}

// post sends a JSON body and reads the answer.
func post(ctx context.Context, client *http.Client, url string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encoding notification: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "settlemon-alerter")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	if resp.StatusCode/100 != 2 {
		return &StatusError{Code: resp.StatusCode, Body: strings.TrimSpace(string(head))}
	}
	return nil
}

// checkURL accepts an absolute http or https URL with a host.
func checkURL(what, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s %q: %w", what, raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s %q: want an http:// or https:// URL with a host", what, raw)
	}
	return nil
}

// Alertmanager posts to an Alertmanager-compatible receiver: POST
// <url>/api/v2/alerts with a JSON array of one alert.
//
// A firing alert carries endsAt = now + FiringFor: Alertmanager resolves an
// alert by itself once its endsAt passes (or resolve_timeout without one),
// so the alerter re-sends firing alerts before that. A resolved alert
// carries endsAt = its resolution time. Both times are clamped so that
// startsAt ≤ endsAt and a resolved endsAt is not in the future (event times
// of a simulation may be): Alertmanager would keep such an alert active.
type Alertmanager struct {
	url          string
	client       *http.Client
	generatorURL string
	firingFor    time.Duration
	now          func() time.Time
}

// AlertmanagerConfig configures an Alertmanager sink.
type AlertmanagerConfig struct {
	URL          string // base URL, e.g. http://alertmanager:9093
	GeneratorURL string // optional link back, sent as generatorURL
	FiringFor    time.Duration
}

// NewAlertmanager returns a sink for cfg; client and now must not be nil.
func NewAlertmanager(cfg AlertmanagerConfig, client *http.Client, now func() time.Time) (*Alertmanager, error) {
	if err := checkURL("alertmanager URL", cfg.URL); err != nil {
		return nil, err
	}
	if cfg.FiringFor <= 0 {
		return nil, fmt.Errorf("alertmanager: firing alerts must stay active for a positive time, got %v", cfg.FiringFor)
	}
	return &Alertmanager{url: strings.TrimRight(cfg.URL, "/") + "/api/v2/alerts", client: client,
		generatorURL: cfg.GeneratorURL, firingFor: cfg.FiringFor, now: now}, nil
}

// Name implements Sink.
func (a *Alertmanager) Name() string { return "alertmanager" }

// PostableAlert is an alert of Alertmanager's API v2.
type PostableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Postable is the alert a notification becomes, sent at now.
func (a *Alertmanager) Postable(n Notification, now time.Time) PostableAlert {
	now = now.UTC().Truncate(time.Second)
	start := n.StartsAt
	if start.IsZero() || start.After(now) {
		start = now
	}
	var end time.Time
	if n.Status == Resolved {
		end = n.EndsAt
		if end.IsZero() || end.After(now) {
			end = now
		}
		if end.Before(start) {
			end = start
		}
	} else {
		end = now.Add(a.firingFor)
	}
	return PostableAlert{Labels: n.Labels, Annotations: n.Annotations, StartsAt: start, EndsAt: end, GeneratorURL: a.generatorURL}
}

// Send implements Sink.
func (a *Alertmanager) Send(ctx context.Context, n Notification) error {
	return post(ctx, a.client, a.url, []PostableAlert{a.Postable(n, a.now())})
}

// Webhook posts one JSON object (WebhookMessage) per notification to a URL.
type Webhook struct {
	url    string
	client *http.Client
}

// NewWebhook returns a sink posting to url; client must not be nil.
func NewWebhook(url string, client *http.Client) (*Webhook, error) {
	if err := checkURL("webhook URL", url); err != nil {
		return nil, err
	}
	return &Webhook{url: url, client: client}, nil
}

// Name implements Sink.
func (w *Webhook) Name() string { return "webhook" }

// WebhookMessage is the body of a generic webhook notification. EndsAt is the
// zero time ("0001-01-01T00:00:00Z") while the alert fires, as in
// Alertmanager's own webhooks.
type WebhookMessage struct {
	Status      State             `json:"status"`
	AlertName   string            `json:"alertname"`
	Fingerprint string            `json:"fingerprint"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
}

// Message is the body a notification becomes.
func (w *Webhook) Message(n Notification) WebhookMessage {
	return WebhookMessage{Status: n.Status, AlertName: n.Name(), Fingerprint: n.Fingerprint, Labels: n.Labels,
		Annotations: n.Annotations, StartsAt: n.StartsAt, EndsAt: n.EndsAt}
}

// Send implements Sink.
func (w *Webhook) Send(ctx context.Context, n Notification) error {
	return post(ctx, w.client, w.url, w.Message(n))
}
