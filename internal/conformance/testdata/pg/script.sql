--
-- a small psql script
--
SELECT 1 AS one;

CREATE TABLE t (a int,
  b text);  -- two lines
SET search_path = other;
SELECT current_schema();
INSERT INTO t VALUES (1, 'x');
SELECT count(*) FROM t;
