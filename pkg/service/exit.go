package service

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"settlemon/pkg/store"
)

// ExitCode turns a command's outcome into its exit status: 0 for success
// and for --help, otherwise 1 after printing the error prefixed with the
// command's name.
func ExitCode(command string, err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(os.Stderr, command+":", err)
	return 1
}

// OpenStore connects to ClickHouse and, when migrate is set, applies the
// migrations first. The caller closes the store.
func OpenStore(ctx context.Context, cfg store.Config, log *slog.Logger, migrate bool) (*store.Store, error) {
	st, err := store.New(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	if migrate {
		if _, err := st.Migrate(ctx); err != nil {
			st.Close()
			return nil, err
		}
	}
	return st, nil
}
