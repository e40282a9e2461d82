SELECT current_user;
\c - regress_alice
SELECT current_user;
