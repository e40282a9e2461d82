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
// A [Log] fails closed: once the sink refuses a write, every later Write
// returns that error, so the caller can deny the request it was recording.
// Writes are buffered and flushed every [Options.FlushInterval] and on
// Flush and Close; a nil error from Write means the record is encoded and
// buffered, not that it is on disk.
//
// The package does not decide anything, read keys from files, rotate or
// ship logs, or write diagnostics: the gate decides and calls [Log.Write],
// the caller loads the key, and diagnostics go to a separate logger. One
// Log must be the only writer of its file; concatenating the output of two
// processes into one stream breaks the chain.
package audit
