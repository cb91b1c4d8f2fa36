-- What Meld's two roles may do in its database. Idempotent: setup.sql runs it, and run it
-- again after a restore (a dump does not carry the database's own CONNECT rights):
--
--   sudo -u postgres psql -d meld -f /opt/meld/src/deploy/postgres/grants.sql
--
-- Run it connected to Meld's database, as a superuser. psql -v owner=... -v app=...
-- choose other role names (the tests do).

\set ON_ERROR_STOP on
\if :{?owner}
\else
  \set owner meld_owner
\endif
\if :{?app}
\else
  \set app meld_app
\endif

-- Only Meld's roles connect; nobody else makes temporary tables here.
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database()) \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO %I, %I', current_database(), :'owner', :'app')
\gexec

-- The owner owns the schema and, through `meld migrate`, every table in it.
ALTER SCHEMA public OWNER TO :"owner";
REVOKE ALL ON SCHEMA public FROM PUBLIC;

-- The app role: rows only. Meld never deletes a row (retention erases fields with UPDATE,
-- the audit log is append-only), so there is no DELETE, TRUNCATE, REFERENCES or TRIGGER.
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO :"app";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"app";
-- ... and the same on the tables and sequences later migrations make (as the owner).
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE ON TABLES TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO :"app";

-- CREATE on the schema: the first report of a year makes that year's reference sequence
-- (CREATE SEQUENCE IF NOT EXISTS meld_reference_YYYY, intake/services/submitting.py), and
-- PostgreSQL checks this right even when the sequence exists. The app role owns those
-- sequences; it cannot alter, drop or take rights on the owner's tables.
GRANT USAGE, CREATE ON SCHEMA public TO :"app";

-- The owner may use what the app role made (pg_dump reads the reference sequences).
GRANT :"app" TO :"owner";
