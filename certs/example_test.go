package certs_test

import (
	"crypto/x509"
	"fmt"
	"log"
	"time"

	"github.com/airlockproxy/airlock/certs"
)

// An ephemeral CA signs a short-lived leaf for the loopback listeners; a
// client that trusts only the CA's pool accepts it.
func ExampleCA_Issue() {
	ca, err := certs.NewCA(certs.CAOptions{Validity: 2 * time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	leaf, err := ca.Issue(certs.DefaultHosts, 30*time.Minute)
	if err != nil {
		log.Fatal(err)
	}

	fmt.Println("DNS SANs:", leaf.Leaf.DNSNames)
	fmt.Println("IP SANs:", leaf.Leaf.IPAddresses)
	fmt.Println("chain length:", len(leaf.Certificate))
	_, err = leaf.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "bucket.localhost"})
	fmt.Println("trusted for bucket.localhost:", err == nil)
	// Output:
	// DNS SANs: [localhost *.localhost]
	// IP SANs: [127.0.0.1 ::1]
	// chain length: 2
	// trusted for bucket.localhost: true
}

// Upstream TLS settings usually come from YAML; Validate runs before anything
// listens and names the field at fault.
func ExampleUpstreamTLS_Validate() {
	u := certs.UpstreamTLS{Mode: "verify_full"}
	fmt.Println(u.Validate())
	// Output:
	// mode: "verify_full" is not one of disable, require, verify-ca, verify-full
}
