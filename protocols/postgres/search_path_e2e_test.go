package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/airlockproxy/airlock/protocols/postgres"
	"github.com/airlockproxy/airlock/proxy/secret"
)

// TestSearchPathSeveralSchemas: with search_path "sales, public" pinned, an
// unqualified name the server finds in public (sales has no such table) is
// not checked as sales.<name> only; the read-sales rule, which allows
// sales.* alone, must not let it through.
func TestSearchPathSeveralSchemas(t *testing.T) {
	var r *rig
	r = startRig(t, func(cfg *postgres.Config) {
		cfg.Classifier = postgres.NewClassifier([]string{"sales", "public"}, "app")
		cfg.Pinned = map[string]string{"search_path": "sales, public"}
		cfg.Connect = func(ctx context.Context, params map[string]string) (*pgconn.PgConn, error) {
			// r is set by the time a client connects.
			return postgres.Dialer(postgres.Upstream{Host: r.pg.Host, Port: r.pg.Port, Database: "app",
				Session: map[string]string{"search_path": "sales, public"},
				Login: func(context.Context) (string, secret.Secret, error) {
					return "etl", secret.New("etl-upstream-pw"), nil
				}})(ctx, params)
		}
	})
	r.pg.Psql(t, "app", `CREATE TABLE public.salaries (who text, amount int);
INSERT INTO public.salaries VALUES ('ceo', 1000000);
GRANT SELECT ON public.salaries TO etl;`)
	c := r.connect(t, "")
	var who string
	err := c.QueryRow(context.Background(), "SELECT who FROM salaries", pgx.QueryExecModeSimpleProtocol).Scan(&who)
	if err == nil {
		t.Fatalf("SELECT FROM salaries allowed under the sales-only rule, read public.salaries: %q", who)
	}
	wantDenied(t, err, "")
	// A qualified name is checked as written.
	if err := c.QueryRow(context.Background(), "SELECT count(*) FROM sales.orders").Scan(new(int)); err != nil {
		t.Fatalf("qualified read of sales.orders: %v", err)
	}
}
