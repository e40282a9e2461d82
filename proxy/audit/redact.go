package audit

import "fmt"

// Format prints o with its key redacted, whatever the verb, so that
// logging a configuration cannot leak the chain key.
func (o Options) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "{Key:%s Task:%q FlushInterval:%s Now:%t}",
		redacted(o.Key), o.Task, o.FlushInterval, o.Now != nil)
}

// Format prints o with its key redacted, whatever the verb.
func (o VerifyOptions) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "{Key:%s AllowOpen:%t}", redacted(o.Key), o.AllowOpen)
}

func redacted(key []byte) string {
	if len(key) == 0 {
		return "none"
	}
	return "[REDACTED]"
}
