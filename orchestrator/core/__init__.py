"""The leaf core: settings, database, clock, configuration, vocabularies, shared tables and the
graph contracts. It imports nothing from the rest of the project."""
