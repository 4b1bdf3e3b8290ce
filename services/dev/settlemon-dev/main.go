// Command settlemon-dev holds the development commands: `settlemon-dev run`
// runs the whole pipeline on the embedded default (in-process broker, local
// ClickHouse) and prints a report, and score, bench, broker and chaos measure
// and try it. None of this is in the production image; the operations tool
// is services/settlemon.
package main

import (
	"errors"
	"fmt"
	"os"

	"settlemon/pkg/service"
)

const usage = `settlemon-dev — the development commands of the settlement monitor

Usage:
  settlemon-dev run      [flags]   run simulator + ingest + joiner on the embedded default and print a report
  settlemon-dev score    [flags]   score the anomalies in ClickHouse against the simulator's truth file
  settlemon-dev bench    [flags]   measure the real pipeline on this machine against the performance targets
  settlemon-dev broker   [flags]   the dev Kafka-protocol broker (kfake) as a process, with a data dir and fault injection
  settlemon-dev chaos    [flags]   kill, outage, broker-restart and fault scenarios on real processes vs an undisturbed run

The operations commands (migrate, explain, probe) are settlemon (services/settlemon).

Run "settlemon-dev <command> --help" for the flags of a command. Every flag can
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
	case "score":
		return scoreCommand(args[1:])
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
		fmt.Fprintf(os.Stderr, "settlemon-dev: unknown command %q\nrun \"settlemon-dev --help\" for the commands\n", args[0])
		return service.ExitUsage
	}
	command := "settlemon-dev " + args[0]
	switch {
	case errors.Is(err, errUnbalanced):
		fmt.Fprintln(os.Stderr, service.Message(command, err))
		return 3
	case errors.Is(err, errChaosFailed):
		fmt.Fprintln(os.Stderr, service.Message(command, err))
		return 4
	}
	return service.NewExit(command, args).Code(err)
}
