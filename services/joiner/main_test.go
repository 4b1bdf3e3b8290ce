package main

import (
	"testing"

	"settlemon/pkg/pipeline"
)

// TestPipelineArgs: the flags pkg/pipeline gives a child joiner process are
// this command's, and a valid configuration.
func TestPipelineArgs(t *testing.T) {
	args := append(pipeline.DefaultConfig().JoinerArgs(), "--check-config", "--ops-listen", "127.0.0.1:0")
	if code := run(args); code != 0 {
		t.Errorf("joiner %v: exit %d, want 0", args, code)
	}
}
