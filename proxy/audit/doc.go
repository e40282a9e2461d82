// Package audit writes and verifies Airlock's audit log: one JSON line per
// event (every policy decision, allowed or denied; every credential change;
// every lifecycle step), in a fixed schema with `time` first, a sequence
// number, and a hash chain (`prev`, `mac`) that makes removed, reordered,
// modified or cut records detectable.
//
// With a key, each record's mac is HMAC-SHA256(key, line up to the mac
// field); without one it is plain SHA-256 of the same bytes (an "unkeyed"
// chain, which detects accidents but not a forger). The first record of a
// file has prev = 64 zeros; a lifecycle exit record carries last_seq, the
// checkpoint that lets [Verify] tell a closed log from a cut one. A file
// reopened with [Open] continues its chain, so one file may hold several
// runs; a run that starts where the previous one has no exit checkpoint is
// reported like a cut tail, since a crash and a cut look the same.
//
// Record before forward: [Log.Write] returns only after its record has
// been handed to the sink (write(2) returned; with [Options.Sync], fsynced
// too), so a caller that forwards a request after a nil error never
// forwards an unrecorded one, even if the process is killed right after.
// Concurrent writers share write calls (group commit).
//
// A [Log] fails closed: when the sink refuses a write, the records not
// written are dropped (their Writes return the error, so their requests
// are denied), the chain is rolled back to the last record written, and
// every Write fails at once while a background retry tries to write a
// lifecycle record with phase resume that continues the chain. [Open]
// moves a partial last line (a crash cut a write) to a side file and
// writes a resume record naming it. [Verify] accepts a partial line only
// directly before a resume record that continues the chain, and reports
// every resume record in [Report.Resumes].
//
// The package does not decide anything, read keys from files, rotate or
// ship logs, or write diagnostics: the gate decides and calls [Log.Write],
// the caller loads the key, and diagnostics go to a separate logger. One
// Log must be the only writer of its file; concatenating the output of two
// processes into one stream breaks the chain.
package audit
