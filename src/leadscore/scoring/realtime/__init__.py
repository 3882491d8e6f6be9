"""Real-time scoring of single leads: pre-compiled, numpy-native, same scores as batch.

Batch scoring builds pandas frames and runs every preprocessing step; for one lead that
costs tens of milliseconds, almost all of it conversion, not model.
:class:`~leadscore.scoring.realtime.scorer.FastScorer` compiles a fitted
:class:`~leadscore.modeling.model.LeadModel` once:

* gradient boosters (LightGBM, XGBoost) get a flat encoder — numbers, date parts and the
  category codes the booster was trained on — and are evaluated on a numpy row; LightGBM
  bags are compiled further (:mod:`leadscore.scoring.treeshap`): scores and exact tree
  SHAP reasons from one numba kernel, several times faster than LightGBM's own
  ``pred_contrib``;
* logistic regression becomes a sum of per-field lookups and affine terms, and naive Bayes
  a sum of per-field lookups (a category's level, a number's bin found among its cut
  points), which also gives the per-field contributions for free;
* the families on the tree and linear encodings (random forests, extra trees, decision
  trees, the MLP) get a numpy encoder, and their occlusion reasons swap
  encoded columns (:mod:`leadscore.scoring.dense`); the tree ensembles run in one numba
  kernel that walks only the trees a swap can change;
* histogram gradient boosting gets its own codes for the categories and the same kernel;
  CatBoost gets the level texts back and its own SHAP values;
* any other model falls back to the batch path (correct, just slower).

The scores are the batch scores (a contract test compares them); reasons use the same
contributions as :mod:`leadscore.scoring.contributions`.

The modules:

* :mod:`.cleaning` — a request's raw values typed as in training, and the boosters'
  native input row;
* :mod:`.boosters` — LightGBM, XGBoost and CatBoost on numpy rows (scores and their own
  SHAP values);
* :mod:`.terms` — logistic regression and naive Bayes as per-field terms;
* :mod:`.scorer` — :class:`~leadscore.scoring.realtime.scorer.FastScorer` itself: which
  of the above a model gets, scores, segments and reasons, and the split of one lead's
  trees over the cores around the service's store transaction.
"""
