"""Checks that execute a record's output instead of asking about it: SQL against its schema,
JSON against a JSON Schema, code against its tests; run after the rules, before the judge."""
