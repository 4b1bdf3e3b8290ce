// Command settlemon is the operations tool of a deployment: `settlemon
// migrate` applies the ClickHouse migrations, `settlemon explain` answers why
// a trace has not been paid, `settlemon find` finds a trace from what the
// merchant knows (merchant, day, amount, terminal, card last four), and `settlemon probe` is the container health
// check. It links no development tooling; the embedded run, bench, chaos,
// dev broker and scoring are services/dev/settlemon-dev.
package main

import (
	"fmt"
	"os"
	"strconv"

	"settlemon/pkg/service"
	"settlemon/pkg/text"
)

const usage = `settlemon — real-time settlement monitor for card acquirers: the operations tool

Usage:
  settlemon migrate  [flags]   apply the ClickHouse migrations (re-running is a no-op)
  settlemon explain  <trace_no> [flags]   why hasn't this trace been paid? status, due date, timeline, anomalies
  settlemon find     --merchant --day --amount [--terminal] [--last4]   the trace of a sale, without its number
  settlemon probe    <url>     GET a URL, exit 0 on 2xx (container health checks)

The development commands (run, score, bench, broker, chaos) are settlemon-dev
(services/dev/settlemon-dev; "make run" builds both).

Run "settlemon <command> --help" for the flags of a command. Every flag can
also be set by environment variable: --clickhouse-addr is SETTLEMON_CLICKHOUSE_ADDR.
Exit status: 0 success, 1 an error, 2 bad usage (an unknown flag, a bad value,
a missing argument).`

// devCommands are the commands of settlemon-dev, named when asked of settlemon.
var devCommands = map[string]bool{"run": true, "score": true, "bench": true, "broker": true, "chaos": true}

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	migrateExit := service.NewExit("settlemon migrate", args)
	p := text.NewPrinter(migrateExit.Lang, nil)
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, usage)
		return service.ExitUsage
	}
	switch args[0] {
	case "migrate":
		return migrateExit.Code(migrate(args[1:]))
	case "explain":
		return explainCommand(args[1:])
	case "find":
		return findCommand(args[1:])
	case "probe":
		return probeCommand(args[1:])
	case "-h", "--help", "help":
		fmt.Println(usage)
		return 0
	}
	if devCommands[args[0]] {
		fmt.Fprintln(os.Stderr, "settlemon: "+p.S("error.dev_command", strconv.Quote(args[0]), strconv.Quote("settlemon-dev "+args[0]),
			"go build -o bin/ ./services/dev/settlemon-dev"))
		return service.ExitUsage
	}
	fmt.Fprintln(os.Stderr, "settlemon: "+p.S("error.unknown_command", strconv.Quote(args[0])))
	fmt.Fprintln(os.Stderr, p.S("error.see_commands", strconv.Quote("settlemon --help")))
	return service.ExitUsage
}
