"""Explaining leads and conversion to people: what converts, who the ideal customer is, why.

* :mod:`leadscore.explain.conversion` — conversion rate per level or range of every field,
  with Wilson intervals (:mod:`leadscore.explain.rates`) and lift;
* :mod:`leadscore.explain.findings` — the fields that separate converting leads, and
  plain-language findings (written as :mod:`leadscore.explain.wording` writes fields and
  numbers);
* :mod:`leadscore.explain.ideal` — the ideal customer profile, what a lead's differences from
  it cost in score points, and how far hot / warm / cold leads are from it;
* :mod:`leadscore.explain.insights` — all of it as one set of numbers (and JSON), which
  :mod:`leadscore.reporting.insights` draws as a self-contained HTML page and PNG charts;
* :mod:`leadscore.scoring.contributions`, :mod:`leadscore.scoring.reasons` and
  :mod:`leadscore.explain.drivers` — how each field moved a lead's score;
* :mod:`leadscore.scoring.phrases` — the one phrase builder every reason, finding and
  ideal-customer cell is worded by (with :mod:`leadscore.scoring.field_facts`: what the
  model and the data dictionary say about each field, and whether sales can act on it);
* :mod:`leadscore.scoring.treeshap` — exact tree SHAP for LightGBM compiled with numba
  (the batch reasons and the API's real-time reasons both run on it).
"""
