"""Test support: real services (chain nodes, PostgreSQL) started by the tests themselves."""
