package audit_test

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/airlockproxy/airlock/proxy/audit"
)

func TestOptionsDoNotPrintKey(t *testing.T) {
	leaks := []string{string(testKey), hex.EncodeToString(testKey), strings.Trim(fmt.Sprint([]byte(testKey[:8])), "[]")}
	for _, v := range []any{
		audit.Options{Key: testKey, Task: "run-42"},
		&audit.Options{Key: testKey},
		audit.VerifyOptions{Key: testKey},
		&audit.VerifyOptions{Key: testKey},
	} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
			out := fmt.Sprintf(verb, v)
			if !strings.Contains(out, "[REDACTED]") {
				t.Errorf("%s of %T = %q: no [REDACTED]", verb, v, out)
			}
			for _, leak := range leaks {
				if strings.Contains(out, leak) {
					t.Errorf("%s of %T = %q: prints the key", verb, v, out)
				}
			}
		}
	}
}
