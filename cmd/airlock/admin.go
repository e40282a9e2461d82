package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

func adminFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("AIRLOCK_ADMIN")
	if def == "" {
		def = "127.0.0.1:9901"
	}
	return fs.String("admin", def, "the sidecar's admin address (env AIRLOCK_ADMIN)")
}

func adminURL(addr, path string) string {
	if strings.HasPrefix(addr, "http://") {
		return strings.TrimSuffix(addr, "/") + path
	}
	return "http://" + addr + path
}

// cmdWait blocks until the sidecar's /startup answers 200.
func cmdWait(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("airlock wait", flag.ContinueOnError)
	addr := adminFlag(fs)
	timeout := fs.Duration("timeout", time.Minute, "give up after this long")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, adminURL(*addr, "/startup"), nil)
		resp, err := client.Do(req)
		if err == nil {
			var body struct {
				State string   `json:"state"`
				Steps []string `json:"steps"`
			}
			_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				fmt.Fprintf(stdout, "airlock is %s\n", body.State)
				return nil
			}
			if n := len(body.Steps); n > 0 {
				last = body.Steps[n-1]
			}
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s (last: %s)", *timeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// cmdShutdown asks the sidecar to stop.
func cmdShutdown(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("airlock shutdown", flag.ContinueOnError)
	addr := adminFlag(fs)
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Post(adminURL(*addr, "/quitquitquit"), "text/plain", nil)
	if err != nil {
		return fmt.Errorf("ask %s to stop: %w", *addr, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New("ask " + *addr + " to stop: " + resp.Status)
	}
	fmt.Fprintln(stdout, "airlock is stopping")
	return nil
}
