package postgres_test

import (
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/airlockproxy/airlock/protocols/postgres"
)

const benchSimple = "SELECT id, name FROM orders WHERE id = 42"

const benchJoin20 = `SELECT o.id, o.created_at, c.name, c.email, p.title, p.price,
       oi.quantity, oi.unit_price, s.status, s.updated_at,
       a.street, a.city, a.country, w.name AS warehouse
FROM sales.orders o
JOIN sales.customers c ON c.id = o.customer_id
JOIN sales.order_items oi ON oi.order_id = o.id
JOIN catalog.products p ON p.id = oi.product_id
LEFT JOIN sales.shipments s ON s.order_id = o.id
LEFT JOIN sales.addresses a ON a.id = s.address_id
LEFT JOIN logistics.warehouses w ON w.id = s.warehouse_id
WHERE o.created_at >= now() - interval '30 days'
  AND c.country IN ('DE', 'FR', 'NL')
  AND p.price > 10.5
  AND EXISTS (SELECT 1 FROM sales.payments pay WHERE pay.order_id = o.id AND pay.state = 'settled')
  AND o.id NOT IN (SELECT order_id FROM sales.refunds)
GROUP BY o.id, o.created_at, c.name, c.email, p.title, p.price, oi.quantity,
         oi.unit_price, s.status, s.updated_at, a.street, a.city, a.country, w.name
HAVING sum(oi.quantity) > 1
ORDER BY o.created_at DESC
LIMIT 100 OFFSET 20`

func benchClassify(b *testing.B, text string) {
	c := postgres.NewClassifier([]string{"sales"}, "app")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Classify(text); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkClassifySimple(b *testing.B) { benchClassify(b, benchSimple) }
func BenchmarkClassifyJoin20(b *testing.B) { benchClassify(b, benchJoin20) }

// The parts, for comparison: the pre-scan, pg_query's Parse and Normalize.

func BenchmarkNestingJoin20(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		postgres.Nesting(benchJoin20)
	}
}

func BenchmarkParseJoin20(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pg_query.Parse(benchJoin20); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNormalizeJoin20(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pg_query.Normalize(benchJoin20); err != nil {
			b.Fatal(err)
		}
	}
}
