-- Meld on PostgreSQL: two roles and one database. Run once, as a superuser, with psql:
--
--   sudo -u postgres psql -v owner_password="$OWNER_PW" -v app_password="$APP_PW" \
--       -f /opt/meld/src/deploy/postgres/setup.sql
--
-- meld_owner owns the tables and runs `meld migrate` (meld-migrate.service) and pg_dump
-- (meld-backup.service). meld_app is what the replicas, the timers and the `meld` command
-- log in as: it reads and writes rows, and owns nothing but the reference sequences it
-- makes each new year (grants.sql says why). psql -v db=... -v owner=... -v app=...
-- choose other names (the tests do).

\set ON_ERROR_STOP on
\if :{?db}
\else
  \set db meld
\endif
\if :{?owner}
\else
  \set owner meld_owner
\endif
\if :{?app}
\else
  \set app meld_app
\endif

CREATE ROLE :"owner" LOGIN PASSWORD :'owner_password';
CREATE ROLE :"app" LOGIN PASSWORD :'app_password';
CREATE DATABASE :"db" OWNER :"owner";

\connect :"db"
\ir grants.sql
