"""Real servers started on loopback for tests and rehearsals (from the distribution's packages)."""
