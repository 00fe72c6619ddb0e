"""The throwaway PostgreSQL cluster the team-store tests run against: its roles get exactly the
rights the README's Team setup gives them."""

from __future__ import annotations

import pytest

psycopg = pytest.importorskip("psycopg")


def test_owner_creates_and_the_others_get_default_privileges(team_db):
    with psycopg.connect(team_db.owner, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA s")
        conn.execute("CREATE TABLE s.t (id bigint GENERATED ALWAYS AS IDENTITY, v text)")
    with psycopg.connect(team_db.curator, autocommit=True) as conn:
        conn.execute("INSERT INTO s.t (v) VALUES ('a')")
        conn.execute("DELETE FROM s.t WHERE v = 'b'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE s.u (x int)")
    with psycopg.connect(team_db.scanner, autocommit=True) as conn:
        assert conn.execute("SELECT v FROM s.t").fetchall() == [("a",)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO s.t (v) VALUES ('c')")


def test_password_is_required_and_pgpassword_supplies_it(team_db, monkeypatch):
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(team_db.url("provcheck_scanner", password=False)).close()
    monkeypatch.setenv("PGPASSWORD", team_db.passwords["provcheck_scanner"])
    psycopg.connect(team_db.url("provcheck_scanner", password=False)).close()


def test_each_test_gets_its_own_empty_database(team_db, postgres_cluster):
    with psycopg.connect(team_db.owner) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchone()[0]
    assert tables == 0
    assert postgres_cluster.start_seconds > 0
