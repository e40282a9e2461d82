package credentials

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"

	"github.com/xdg-go/scram"
)

// scramIterations is PostgreSQL's default scram_iterations.
const scramIterations = 4096

// scramVerifier returns the SCRAM-SHA-256 verifier PostgreSQL stores for
// password, in the form it accepts in place of a password:
// SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>. Sending it
// keeps the plaintext out of the statement and so out of server logs.
func scramVerifier(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	client, err := scram.SHA256.NewClient("", password, "")
	if err != nil {
		return "", fmt.Errorf("prepare password: %w", err)
	}
	sc, err := client.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(salt), Iters: scramIterations})
	if err != nil {
		return "", fmt.Errorf("derive keys: %w", err)
	}
	enc := base64.StdEncoding
	return "SCRAM-SHA-256$" + strconv.Itoa(scramIterations) + ":" + enc.EncodeToString(salt) +
		"$" + enc.EncodeToString(sc.StoredKey) + ":" + enc.EncodeToString(sc.ServerKey), nil
}

// randomPassword is 32 random bytes, base64url without padding.
func randomPassword() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// randomSuffix is n random characters of [a-z0-9].
func randomSuffix(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	out := make([]byte, n)
	for i := range out {
		out[i] = alphabet[randIntN(len(alphabet))]
	}
	return string(out)
}

// randIntN is a uniform crypto-random int in [0, n).
func randIntN(n int) int {
	// Rejection sampling over one byte; n is small.
	limit := 256 - 256%n
	var b [1]byte
	for {
		_, _ = rand.Read(b[:])
		if int(b[0]) < limit {
			return int(b[0]) % n
		}
	}
}
