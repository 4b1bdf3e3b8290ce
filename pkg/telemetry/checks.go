package telemetry

import (
	"context"
	"errors"
	"fmt"

	"settlemon/pkg/kafkaio"
)

// Pinger answers a ping; a store.Store
// implements it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// PingCheck is ready when p answers a ping.
func PingCheck(name string, p Pinger) Check {
	return Check{Name: name, Func: func(ctx context.Context) error {
		if err := p.Ping(ctx); err != nil {
			return fmt.Errorf("ping: %w", err)
		}
		return nil
	}}
}

// BrokerCheck (named "kafka") is ready when one of the brokers of k accepts a
// connection, with the TLS and SASL settings of k.
func BrokerCheck(k kafkaio.Config) Check {
	return Check{Name: "kafka", Func: func(ctx context.Context) error {
		dialer, err := k.Dialer()
		if err != nil {
			return err
		}
		var errs []error
		for _, b := range k.Brokers {
			conn, err := dialer.DialContext(ctx, "tcp", b)
			if err == nil {
				return conn.Close()
			}
			errs = append(errs, fmt.Errorf("broker %s: %w", b, err))
		}
		if len(errs) == 0 {
			return errors.New("no broker configured")
		}
		return errors.Join(errs...)
	}}
}
