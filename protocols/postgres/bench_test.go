package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// BenchmarkPrepared runs a prepared point query through Airlock and
// directly, one client, one round trip per op: the difference is
// Airlock's added latency.
func BenchmarkPrepared(b *testing.B) {
	r := startRig(b, nil)
	ctx := context.Background()
	for _, target := range []string{"direct", "airlock"} {
		b.Run(target, func(b *testing.B) {
			var c *pgx.Conn
			var err error
			if target == "direct" {
				c, err = pgx.Connect(ctx, "host=127.0.0.1 port="+itoa(r.pg.Port)+" user=etl password=etl-upstream-pw dbname=app sslmode=disable search_path=sales")
			} else {
				c, err = pgx.Connect(ctx, r.connString(""))
			}
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close(ctx)
			var n int
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := c.QueryRow(ctx, "SELECT amount::int FROM sales.orders WHERE id = $1", i%100+1).Scan(&n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
