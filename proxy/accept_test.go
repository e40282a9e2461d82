package proxy

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// flakyListener fails its first n accepts with err, as a process out of
// descriptors does, then accepts for real.
type flakyListener struct {
	net.Listener
	n   int
	err error
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.n > 0 {
		l.n--
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: l.err}
	}
	return l.Listener.Accept()
}

func TestRetryListener(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ECONNABORTED, syscall.ENOMEM} {
		t.Run(errno.Error(), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			m := NewMetrics()
			var logs bytes.Buffer
			var slept []time.Duration
			rl := newRetryListener(&flakyListener{Listener: ln, n: 12, err: errno}, "postgres", zerolog.New(&logs), m)
			rl.sleep = func(d time.Duration) { slept = append(slept, d) }
			go func() {
				if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
					defer c.Close()
					time.Sleep(time.Second)
				}
			}()
			c, err := rl.Accept()
			if err != nil {
				t.Fatalf("Accept = %v after %d failures; want a connection", err, 12)
			}
			c.Close()
			rec := httptest.NewRecorder()
			promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
			if want := `airlock_accept_errors_total{protocol="postgres"} 12`; !strings.Contains(rec.Body.String(), want) {
				t.Errorf("metrics lack %s", want)
			}
			want := []time.Duration{5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000, 1000}
			for i := range want {
				want[i] *= time.Millisecond
			}
			if len(slept) != len(want) {
				t.Fatalf("slept %v, want %v", slept, want)
			}
			for i := range want {
				if slept[i] != want[i] {
					t.Fatalf("slept %v, want %v", slept, want)
				}
			}
			if n := strings.Count(logs.String(), `"level":"warn"`); n != 1 {
				t.Errorf("%d warnings for one burst of failures, want 1 (rate limited):\n%s", n, logs.String())
			}
			if !strings.Contains(logs.String(), errno.Error()) {
				t.Errorf("the warning does not name the error: %s", logs.String())
			}
			ln.Close()
			if _, err := rl.Accept(); err == nil || !strings.Contains(err.Error(), "closed") {
				t.Errorf("Accept on a closed listener = %v, want the close", err)
			}
		})
	}
}

// TestHTTPServerAcceptErrors documents why the HTTP listeners are wrapped
// too: http.Server retries the errors it calls temporary (EMFILE, ENFILE,
// ECONNABORTED) with the same backoff, but Serve returns on others such as
// ENOMEM, which ended the old server; behind retryListener it keeps
// serving.
func TestHTTPServerAcceptErrors(t *testing.T) {
	for _, tc := range []struct {
		errno   syscall.Errno
		wrapped bool
		serves  bool
	}{
		{syscall.EMFILE, false, true},
		{syscall.ENOMEM, false, false},
		{syscall.ENOMEM, true, true},
	} {
		t.Run(fmt.Sprintf("%v wrapped=%v", tc.errno, tc.wrapped), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var l net.Listener = &flakyListener{Listener: ln, n: 2, err: tc.errno}
			if tc.wrapped {
				l = newRetryListener(l, "s3", zerolog.Nop(), NewMetrics())
			}
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }),
				ErrorLog: log.New(io.Discard, "", 0)}
			served := make(chan error, 1)
			go func() { served <- srv.Serve(l) }()
			defer srv.Close()
			c := &http.Client{Timeout: 3 * time.Second}
			resp, err := c.Get("http://" + ln.Addr().String())
			if err == nil {
				resp.Body.Close()
			}
			if (err == nil) != tc.serves {
				select {
				case e := <-served:
					t.Fatalf("GET: %v; Serve returned %v", err, e)
				default:
					t.Fatalf("GET: %v, want served=%v", err, tc.serves)
				}
			}
		})
	}
}
