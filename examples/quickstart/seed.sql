CREATE SCHEMA sales;
CREATE TABLE sales.orders (id serial PRIMARY KEY, region text, amount numeric);
INSERT INTO sales.orders (region, amount)
  SELECT (ARRAY['north', 'south', 'east', 'west'])[1 + g % 4], round((random() * 100)::numeric, 2)
  FROM generate_series(1, 1000) g;
CREATE TABLE sales.customers_pii (id int, email text);
INSERT INTO sales.customers_pii VALUES (1, 'someone@example.com');
CREATE ROLE etl_reader NOLOGIN;
GRANT USAGE ON SCHEMA sales TO etl_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA sales TO etl_reader;
CREATE ROLE etl_owner NOLOGIN;
