// Package secret holds credential values in a type that will not print them.
//
// A Secret formats as [REDACTED] with every fmt verb, in JSON, YAML and text
// encodings, in zerolog and slog. The only way to the value is Reveal, which
// is easy to grep for. The package does not encrypt or lock memory.
package secret

import (
	"fmt"
	"log/slog"

	"github.com/rs/zerolog"
)

// Redacted is what a Secret prints instead of its value.
const Redacted = "[REDACTED]"

// Secret is a credential value. The zero value is empty.
type Secret struct {
	v *string // a pointer, so that copies share and %v of a struct holding one shows nothing
}

// New wraps value.
func New(value string) Secret { return Secret{v: &value} }

// Reveal returns the value, for the code that must use it (a dialer, a signer).
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == nil || *s.v == "" }

// Equal compares two secrets' values.
func (s Secret) Equal(o Secret) bool { return s.Reveal() == o.Reveal() }

func (Secret) String() string   { return Redacted }
func (Secret) GoString() string { return "secret.Secret{" + Redacted + "}" }

// Format prints [REDACTED] for every verb, %x and %q included.
func (Secret) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(Redacted)) }

func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }
func (Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }
func (Secret) MarshalYAML() (any, error)    { return Redacted, nil }
func (Secret) LogValue() slog.Value         { return slog.StringValue(Redacted) }

// MarshalZerologObject makes zerolog's Object() print the redaction too.
func (Secret) MarshalZerologObject(e *zerolog.Event) { e.Str("secret", Redacted) }

var (
	_ fmt.Formatter              = Secret{}
	_ fmt.GoStringer             = Secret{}
	_ slog.LogValuer             = Secret{}
	_ zerolog.LogObjectMarshaler = Secret{}
)
