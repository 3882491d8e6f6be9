"""Reading lead tables: sources, column roles and types, demo data."""
