package proxy_test

import (
	"os"
	"testing"

	"github.com/airlockproxy/airlock/proxy"
)

// TestMain lets the test binary serve as the task's reaper, as Airlock's
// main does: Server.Exec starts its own binary with proxy.ReaperArg.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == proxy.ReaperArg {
		os.Exit(proxy.RunReaper(os.Args[2:]))
	}
	os.Exit(m.Run())
}
