package audit

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Event is the kind of an audit record.
type Event string

// The three kinds of record.
const (
	EventDecision   Event = "decision"   // a policy check, allowed or denied
	EventCredential Event = "credential" // an upstream credential changed state
	EventLifecycle  Event = "lifecycle"  // the proxy started, became ready, drained or exited
)

// Values of [Record.Decision].
const (
	DecisionAllow = "allow"
	DecisionDeny  = "deny"
)

// Values of [Record.Mode].
const (
	ModeEnforce = "enforce"
	ModeObserve = "observe"
)

// Values of [Record.Phase].
const (
	PhaseStart = "start"
	PhaseReady = "ready"
	PhaseDrain = "drain"
	PhaseExit  = "exit" // written with last_seq, the end-of-log checkpoint
	// PhaseResume: the chain continues after a break the record's detail
	// explains (a sink that failed and works again, torn bytes a crash
	// left at the end of the file, moved aside).
	PhaseResume = "resume"
)

// Values of [Credential.Status].
const (
	CredentialIssued       = "issued"
	CredentialRenewed      = "renewed"
	CredentialRevokeFailed = "revoke-failed"
	CredentialRevoked      = "revoked"
	CredentialExpired      = "expired"
	CredentialFailed       = "failed"
	// CredentialReleased: Airlock stopped holding a credential its source
	// cannot revoke (a static login, an STS session); it stays valid until
	// its expiry, which the record carries (zero: it does not expire).
	CredentialReleased = "released"
)

// MaxStatement is how many bytes of [Record.Statement] a record carries.
// A longer statement is cut on a UTF-8 boundary and marked
// statement_truncated; statement_sha256 always hashes the full text.
const MaxStatement = 4096

// MaxLineBytes bounds one record's line, newline excluded. [Log.Write]
// refuses a record that would encode longer, and [Verify] calls a longer
// line malformed.
const MaxLineBytes = 1 << 20

// ErrInvalidRecord is returned (wrapped) by [Log.Write] for a record that
// does not fit the schema. Nothing is written, and the log stays usable.
var ErrInvalidRecord = errors.New("invalid audit record")

// Record is one audit event. Fields that are empty are left out of the
// line, except that a decision record always has decision, rules and
// reason. The Log never keeps a Record or its slices after Write returns.
type Record struct {
	// Time is when the event happened; zero means the Log's clock.
	Time time.Time
	// Event says which of the three kinds this is; it must be set.
	Event Event
	// RequestID is the id the client sees in a denial.
	RequestID string
	// Task is the task id; empty means [Options.Task].
	Task string
	// Conn is the connection id.
	Conn string
	// Client is the client's address.
	Client string
	// User is the user the client authenticated as.
	User string
	// Protocol is postgres, s3 or http.
	Protocol string
	// Action is the SQL kind, S3 operation or HTTP method.
	Action string
	// Resources are the tables, bucket/key pairs or hosts touched.
	Resources []string
	// Statement is the normalised statement (literals replaced). It is
	// written cut to MaxStatement bytes, with its full SHA-256.
	Statement string
	// Kinds are every SQL statement kind in the statement's tree (a DELETE
	// inside a CTE too), and Functions the functions it calls, schema
	// qualified: what the statement does is on record even when its
	// text is cut.
	Kinds     []string
	Functions []string
	// Decision is allow or deny; required for decision records.
	Decision string
	// Mode is enforce or observe.
	Mode string
	// WouldDeny is set in observe mode when enforce would have denied.
	WouldDeny bool
	// Rules names every matching rule.
	Rules []string
	// Reason says why, in words.
	Reason string
	// Latency is how long the decision took; written as latency_us.
	Latency time.Duration
	// Credential describes the credential of a credential record.
	Credential *Credential
	// Phase is start, ready, drain or exit; required for lifecycle records.
	Phase string
	// PolicySHA256 is the digest of the compiled rule set (policy.Engine's
	// Digest, hex); the start record carries it, and every decision of
	// the run was made by that rule set.
	PolicySHA256 string
	// Detail is free text.
	Detail string
}

// Credential is the non-secret description of an upstream credential.
type Credential struct {
	ID       string    // a non-secret id: role name, lease id, access key id
	Source   string    // the credential source: static, ephemeral-role, assume-role…
	Upstream string    // postgres or s3, or the upstream's address
	Status   string    // issued, renewed, revoke-failed, revoked, expired, failed or released
	Expiry   time.Time // zero when it does not expire
}

// validate checks the fields the verifier and readers rely on.
func (r *Record) validate() error {
	switch r.Event {
	case EventDecision:
		if r.Decision != DecisionAllow && r.Decision != DecisionDeny {
			return fmt.Errorf("%w: decision %q is not allow or deny", ErrInvalidRecord, r.Decision)
		}
	case EventCredential:
		if r.Credential == nil {
			return fmt.Errorf("%w: credential record without a credential", ErrInvalidRecord)
		}
		switch r.Credential.Status {
		case CredentialIssued, CredentialRenewed, CredentialRevokeFailed,
			CredentialRevoked, CredentialExpired, CredentialFailed, CredentialReleased:
		default:
			return fmt.Errorf("%w: unknown credential status %q", ErrInvalidRecord, r.Credential.Status)
		}
	case EventLifecycle:
		switch r.Phase {
		case PhaseStart, PhaseReady, PhaseDrain, PhaseExit, PhaseResume:
		default:
			return fmt.Errorf("%w: unknown lifecycle phase %q", ErrInvalidRecord, r.Phase)
		}
	default:
		return fmt.Errorf("%w: unknown event %q", ErrInvalidRecord, r.Event)
	}
	if r.Mode != "" && r.Mode != ModeEnforce && r.Mode != ModeObserve {
		return fmt.Errorf("%w: mode %q is not enforce or observe", ErrInvalidRecord, r.Mode)
	}
	return nil
}

// truncateStatement cuts s to at most MaxStatement bytes without splitting
// a UTF-8 sequence, and reports whether it cut.
func truncateStatement(s string) (string, bool) {
	if len(s) <= MaxStatement {
		return s, false
	}
	cut := MaxStatement
	// Step back over at most UTFMax-1 continuation bytes; invalid input
	// with longer runs is cut where it is (the encoder replaces it).
	for i := 1; i < utf8.UTFMax && cut > 0 && !utf8.RuneStart(s[cut]); i++ {
		cut--
	}
	if !utf8.RuneStart(s[cut]) {
		cut = MaxStatement
	}
	return s[:cut], true
}
