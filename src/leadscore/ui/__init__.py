"""The dashboard: a Streamlit app for sales managers on top of the library and the store.

``leadscore ui`` starts it (see :mod:`leadscore.cli.dashboard`). The web layer is thin: the
pages in ``views/`` lay out widgets and charts; what they show is computed by plain
modules that need no Streamlit and are unit-tested on their own:

* :mod:`.config` — where the dashboard keeps its files, and the settings it runs with
* :mod:`.auth` — signing in and out, roles
* :mod:`.workspace` — data sets loaded in the app (upload, S3, Mixpanel, SQL, demo)
* :mod:`.data` — store reads shaped into tables: work queue, history, monitoring
* :mod:`.model_catalogue` — the models to choose from, and the one served
* :mod:`.jobs` — comparing, training and re-scoring in the background, with progress
* :mod:`.batch_scoring` — scoring leads into the store in chunks
* :mod:`.model_insights` — the what-if, insights and ideal customer the pages show
* :mod:`.identity`, :mod:`.queue_table` — who each lead is, the CRM link, the queue's table
* :mod:`.lead_form` — a lead typed in by hand, checked and scored by the served model
* :mod:`.charts` — every chart, as an Altair specification
* :mod:`.web` — the Streamlit glue: caches, the signed-in user, page guards
"""
