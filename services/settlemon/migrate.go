package main

import (
	"context"
	"fmt"

	"settlemon/pkg/service"
	"settlemon/pkg/store"
)

func migrate(args []string) error {
	f := service.NewFlags("settlemon migrate", `settlemon migrate — apply the ClickHouse migrations in schemas/clickhouse.

Creates the database if needed and applies, in order, every migration not yet
recorded in its schema_migrations table. Running it again is a no-op.`)
	sc := service.StoreFlags(f)
	lc := service.LogFlags(f)
	f.CheckConfigFlag()
	f.SetDefault("clickhouse-connect-wait", service.InteractiveConnectWait)
	if err := f.Parse(args); err != nil {
		return err
	}
	log, err := lc.Logger()
	if err != nil {
		return service.Usage(err)
	}
	if err := service.Invalid(sc.Validate()); err != nil {
		return err
	}
	if f.CheckOnly() {
		return f.ConfigOK("settlemon migrate")
	}
	ctx, stop := service.SignalContext(context.Background())
	defer stop()
	st, err := store.New(ctx, *sc, log)
	if err != nil {
		return service.StoreError(err)
	}
	defer st.Close()
	applied, err := st.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Println("ClickHouse schema is up to date; nothing applied")
	}
	for _, a := range applied {
		fmt.Println("applied", a)
	}
	return nil
}
