package main

import (
	"testing"

	"settlemon/pkg/event"
	"settlemon/pkg/pipeline"
)

// TestPipelineArgs: the flags pkg/pipeline gives a child ingest process are
// this command's, and a valid configuration.
func TestPipelineArgs(t *testing.T) {
	for s := range event.NumSources {
		args := append(pipeline.DefaultConfig().IngestArgs(s), "--check-config", "--ops-listen", "127.0.0.1:0")
		if code := run(args); code != 0 {
			t.Errorf("ingest %v: exit %d, want 0", args, code)
		}
	}
}
