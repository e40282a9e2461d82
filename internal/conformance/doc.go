// Package conformance compares what a client sees talking to a server
// directly with what it sees through Airlock, using test suites nobody here
// wrote: PostgreSQL's own regression suite (src/test/regress, each file run
// with `psql -a`) and ceph's s3-tests (the boto3 functional suite).
//
// The package holds the comparison: it cuts psql's echoed output into
// statements (Segment), compares two runs of the same file statement by
// statement (CompareFile), classifies each difference as Airlock speaking
// by design (a denial or guard rail, recognised by Airlock's own error
// text, and what follows from it in the same file) or as a difference
// otherwise, and compares two pytest JUnit reports test by test
// (CompareJUnit). The runs themselves are tests that only run when asked
// (`make conformance`): they need the suites, which are fetched at run time,
// not vendored.
//
// The package does not judge whether a server passes its own suite: both
// sides run the same suite against identical servers, and only the
// difference between them is reported.
package conformance
