"""Reading lead tables and events: sources, column roles and types (the demo data is in
:mod:`leadscore.demo`)."""
