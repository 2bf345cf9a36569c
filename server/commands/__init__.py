"""`vereda-server`'s command groups, one module each with its parsers beside its handlers (server/cli.py assembles
them): common.py (exit codes, JSON output, sessions), mlops.py, accounts.py."""
