"""The rules of the engagement, pure: no database, no I/O, no framework. They take values
and return decisions; handlers look them up, then persist and notify."""
