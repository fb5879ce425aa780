"""Service plumbing: settings and the database engine."""
