package audit_test

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/airlockproxy/airlock/proxy/audit"
)

func ExampleVerify() {
	key := []byte("example-key-load-yours-from-a-file")
	var buf bytes.Buffer
	l := audit.New(&buf, audit.Options{Key: key, Task: "nightly-sales"})
	for _, r := range []*audit.Record{
		{Event: audit.EventLifecycle, Phase: audit.PhaseStart},
		{
			Event: audit.EventDecision, Protocol: "postgres", Action: "delete",
			Resources: []string{"sales.orders"}, Statement: "DELETE FROM sales.orders",
			Decision: audit.DecisionDeny, Mode: audit.ModeEnforce,
			Rules: []string{}, Reason: "no rule allows", Latency: 21 * time.Microsecond,
		},
		{Event: audit.EventLifecycle, Phase: audit.PhaseExit},
	} {
		if err := l.Write(r); err != nil {
			fmt.Println(err) // fail closed: deny the request being recorded
			return
		}
	}
	if err := l.Close(); err != nil {
		fmt.Println(err)
		return
	}

	rep, err := audit.Verify(bytes.NewReader(buf.Bytes()), audit.VerifyOptions{Key: key})
	fmt.Printf("%d records, %d run, keyed %v, clean %v, err %v\n", rep.Records, rep.Runs, rep.Keyed, rep.Clean, err)

	// Cut the exit checkpoint off, as if Airlock had been killed.
	cut := buf.Bytes()[:bytes.LastIndexByte(buf.Bytes()[:buf.Len()-1], '\n')+1]
	_, err = audit.Verify(bytes.NewReader(cut), audit.VerifyOptions{Key: key})
	var ce *audit.ChainError
	if errors.As(err, &ce) {
		fmt.Println(ce.Kind, "at line", ce.Line)
	}
	// Output:
	// 3 records, 1 run, keyed true, clean true, err <nil>
	// truncated at line 2
}
