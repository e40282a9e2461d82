package testutil

import (
	"fmt"
	"runtime"
	"testing"
)

// Recorder stands in for a test so that a harness's Skipf and Fatalf can
// be observed: they record their message and end the goroutine, as the
// testing package's do. Call the harness through Run.
type Recorder struct {
	testing.TB
	SkipMsg, FatalMsg string
}

func (r *Recorder) Helper() {}

func (r *Recorder) Skipf(format string, args ...any) {
	r.SkipMsg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *Recorder) Fatalf(format string, args ...any) {
	r.FatalMsg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// Run calls f on its own goroutine, which Skipf and Fatalf end.
func (r *Recorder) Run(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
}
