// Command settlemon is the all-in-one entry point: `settlemon run` runs the
// whole pipeline on the embedded default (in-process broker, local
// ClickHouse) and prints a report; `settlemon migrate` applies the ClickHouse
// migrations. The standalone services are services/ingest, services/joiner
// and services/simulator.
package main

import (
	"errors"
	"fmt"
	"os"

	"settlemon/pkg/service"
)

const usage = `settlemon — real-time settlement monitor for card acquirers

Usage:
  settlemon run      [flags]   run simulator + ingest + joiner on the embedded default and print a report
  settlemon migrate  [flags]   apply the ClickHouse migrations (re-running is a no-op)
  settlemon explain  <trace_no> [flags]   why hasn't this trace been paid? status, due date, timeline, anomalies
  settlemon score    [flags]   score the anomalies in ClickHouse against the simulator's truth file
  settlemon probe    <url>     GET a URL, exit 0 on 2xx (container health checks)
  settlemon bench    [flags]   measure the real pipeline on this machine against the performance targets
  settlemon broker   [flags]   the dev Kafka-protocol broker (kfake) as a process, with a data dir and fault injection
  settlemon chaos    [flags]   kill, outage, broker-restart and fault scenarios on real processes vs an undisturbed run

Run "settlemon <command> --help" for the flags of a command. Every flag can
also be set by environment variable: --kafka-brokers is SETTLEMON_KAFKA_BROKERS.
Exit status: 0 success, 1 an error, 2 bad usage (an unknown flag, a bad value,
a missing argument); run 3 and score, bench and chaos 4 as their help says.`

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, usage)
		return service.ExitUsage
	}
	var err error
	switch args[0] {
	case "run":
		err = runAll(args[1:])
	case "migrate":
		err = migrate(args[1:])
	case "explain":
		return explainCommand(args[1:])
	case "score":
		return scoreCommand(args[1:])
	case "probe":
		return probeCommand(args[1:])
	case "bench":
		err = benchCommand(args[1:])
	case "broker":
		err = brokerCommand(args[1:])
	case "chaos":
		err = chaosCommand(args[1:])
	case "-h", "--help", "help":
		fmt.Println(usage)
		return 0
	default:
		fmt.Fprintf(os.Stderr, "settlemon: unknown command %q\nrun \"settlemon --help\" for the commands\n", args[0])
		return service.ExitUsage
	}
	command := "settlemon " + args[0]
	switch {
	case errors.Is(err, errUnbalanced):
		fmt.Fprintln(os.Stderr, service.Message(command, err))
		return 3
	case errors.Is(err, errChaosFailed):
		fmt.Fprintln(os.Stderr, service.Message(command, err))
		return 4
	}
	return service.ExitCode(command, err)
}
