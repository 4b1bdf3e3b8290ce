package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"settlemon/pkg/service"
	"settlemon/pkg/text"
)

const probeUsage = `settlemon probe <url> [--timeout 5s] — GET a URL; exit 0 on a 2xx answer.

For container health checks in an image without curl or wget, e.g.
  settlemon probe http://127.0.0.1:9101/readyz

It reads no SETTLEMON_* variable but SETTLEMON_LANG, the language of its
errors (it runs inside the service's environment).
Exit status: 0 the answer was 2xx, 1 any other answer or no answer, 2 bad usage.`

// probeCommand is `settlemon probe <url>`; it returns the exit status.
func probeCommand(args []string) int {
	exit := service.NewExit("settlemon probe", args)
	f := flag.NewFlagSet("settlemon probe", flag.ContinueOnError)
	f.SetOutput(io.Discard)
	timeout := f.Duration("timeout", 5*time.Second, "give up after this long")
	f.String(service.LangFlag, string(text.English), "language of the errors: en or zh-CN")
	// The URL may come before or after the flags.
	var target string
	if len(args) > 0 && !isFlag(args[0]) {
		target, args = args[0], args[1:]
	}
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Println(probeUsage)
			return 0
		}
		return exit.Code(service.FlagError(f, err))
	}
	if target == "" && f.NArg() > 0 {
		target = f.Arg(0)
	} else if f.NArg() > 0 {
		return exit.Code(service.Errorf("error.unexpected_argument", strconv.Quote(f.Arg(0))))
	}
	if f.NArg() > 1 {
		return exit.Code(service.Errorf("error.unexpected_argument", strconv.Quote(f.Arg(1))))
	}
	u, err := url.Parse(target)
	if target == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return exit.Code(service.Errorf("error.probe.url", strconv.Quote(target)))
	}
	if *timeout <= 0 {
		return exit.Code(service.Errorf("error.positive", "--timeout", timeout.String()))
	}
	if err := probe(target, *timeout); err != nil {
		return exit.Print(err)
	}
	return 0
}

func isFlag(s string) bool { return len(s) > 1 && s[0] == '-' }

// probe GETs target and fails unless the answer is 2xx.
func probe(target string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	// No proxy: a health check talks to the container it runs in.
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: timeout}
	resp, err := client.Do(req)
	if err != nil {
		return text.Wrap(err, "error.probe.no_answer")
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return text.Wrap(fmt.Errorf("%s: %s", resp.Status, body), "error.probe.status", "GET "+target)
	}
	return nil
}
