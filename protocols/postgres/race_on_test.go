//go:build race

package postgres_test

// raceEnabled: the race detector's shadow memory multiplies RSS, so the
// memory bound is measured in a test binary built without it.
const raceEnabled = true
