"""A model's life after the comparison: training it, writing its folder, registering it,
serving the registered version, retraining it on a sliding window.

* :mod:`leadscore.lifecycle.train` — compare, tune, fit, explain, save and register;
* :mod:`leadscore.lifecycle.compare` — the comparison recorded as an MLflow run;
* :mod:`leadscore.lifecycle.artifacts` — a model folder with its compiled real-time scorer;
* :mod:`leadscore.lifecycle.registry` — MLflow runs, registered versions, champion and
  challenger;
* :mod:`leadscore.lifecycle.pyfunc` — the MLflow pyfunc any MLflow tool can load;
* :mod:`leadscore.lifecycle.retrain` — sliding-window retraining, champion against
  challenger.

It sits above modelling, scoring and explaining (it uses all three) and below live scoring
(:mod:`leadscore.live`, which serves the registered version) and the faces.
"""
