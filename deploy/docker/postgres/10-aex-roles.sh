#!/bin/sh
# Runs once, when the Postgres container initialises an empty data volume
# (/docker-entrypoint-initdb.d). Same layout as deploy/local/stack's pg_provision: database
# `aex` owned by the superuser `aex`, one login role per service that may create (and so owns)
# its own schema, no rights for anybody else, nothing created in `public`.
# Passwords come from deploy/docker/env/postgres.env (development values only).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
REVOKE ALL ON DATABASE aex FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
CREATE ROLE aex_gateway        LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '${AEX_GATEWAY_DB_PASSWORD}';
CREATE ROLE aex_work_publisher LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '${AEX_WORK_PUBLISHER_DB_PASSWORD}';
CREATE ROLE aex_bid_evaluator  LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '${AEX_BID_EVALUATOR_DB_PASSWORD}';
CREATE ROLE aex_settlement     LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '${AEX_SETTLEMENT_DB_PASSWORD}';
CREATE ROLE aex_certauth       LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '${AEX_CERTAUTH_DB_PASSWORD}';
GRANT CONNECT, CREATE, TEMPORARY ON DATABASE aex TO aex_gateway, aex_work_publisher, aex_bid_evaluator, aex_settlement, aex_certauth;
SQL
