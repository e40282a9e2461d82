package credentials_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/airlockproxy/airlock/proxy/credentials"
)

// A broker with the static source: Start obtains the login before Airlock
// reports ready, Current hands it to the dialer, List shows it without the
// password, and Stop revokes what can be revoked.
func ExampleBroker() {
	os.Setenv("EXAMPLE_PGPASSWORD", "s3cret")
	static, err := credentials.NewStaticPostgres("etl", "", "EXAMPLE_PGPASSWORD")
	if err != nil {
		panic(err)
	}
	b := credentials.NewBroker(credentials.BrokerOptions{Deadline: time.Now().Add(time.Hour)})
	b.Add(credentials.UpstreamPostgres, static, credentials.SourceStatic, 5*time.Minute)
	if err := b.Start(context.Background()); err != nil {
		panic(err)
	}
	c, err := b.Current(credentials.UpstreamPostgres)
	if err != nil {
		panic(err)
	}
	fmt.Println(c.User, c.Password)
	fmt.Printf("%+v\n", b.List())
	fmt.Println(b.Stop(context.Background()))
	// Output:
	// etl [REDACTED]
	// [{ID:etl Upstream:postgres Source:static Expiry:0001-01-01 00:00:00 +0000 UTC}]
	// <nil>
}
