"""``LeadModel``: a fitted lead-scoring model, its calibration, thresholds and metadata.

It is a scikit-learn classifier (``fit`` / ``predict_proba`` / ``predict``) that also
knows how to turn probabilities into what a sales team uses (:meth:`LeadModel.score_leads`:
score 0–100, hot/warm/cold, rank, whether to call) and how to save itself as a
directory that refuses to load when tampered with or built by incompatible libraries.
"""

from __future__ import annotations

import copy
import hashlib
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from leadscore.config import Business, Segments
from leadscore.data.columns import ColumnKind, standardise_column
from leadscore.data.input_schema import InputSchema
from leadscore.data.roles import coerce_target
from leadscore.data.sources import TableLike
from leadscore.errors import ArtifactError, LeadscoreError, SchemaError
from leadscore.features.crm import CrmTable, add_crm_only_leads, join_crm, read_crm
from leadscore.modeling.calibration import LogitCalibrator
from leadscore.modeling.ensemble import FoldEnsemble
from leadscore.modeling.families import DataProfile, get_families
from leadscore.modeling.folder import (
    ARTIFACT_FORMAT,
    EVALUATION_FILE,
    IMPORTANCE_FILE,
    MODEL_FILE,
    EstimatorsLeftOut,
    file_sha256,
    library_versions,
    read_trusted_metadata,
    tampered,
    write_metadata,
)
from leadscore.modeling.folds import make_folds
from leadscore.modeling.metrics import evaluate
from leadscore.modeling.preprocess import plan_columns
from leadscore.modeling.thresholds import (
    Cutoffs,
    ThresholdChoice,
    choose_threshold,
    derive_cutoffs,
    segment_note,
    segment_shares,
)
from leadscore.modeling.weights import check_weights, fit_weighted, part


def fingerprint(features: pd.DataFrame, y: np.ndarray) -> str:
    """A short hash of the training data (values and column names), to tell runs apart."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, features.columns)).encode())
    digest.update(pd.util.hash_pandas_object(features, index=False).to_numpy().tobytes())
    digest.update(np.asarray(y, dtype=np.int8).tobytes())
    return digest.hexdigest()[:16]


#: training leads kept with the model as the explainers' background sample
BACKGROUND_ROWS = 200


class LeadModel(ClassifierMixin, BaseEstimator):
    """A calibrated lead-scoring model with a profit-optimal contact threshold.

    Parameters
    ----------
    model:
        Name of a model family (``leadscore.modeling.families.FAMILIES``), e.g.
        ``"catboost"``, ``"lightgbm"``, ``"logreg_l2"``.
    business:
        Conversion value and contact costs; define profit and the threshold.
    segments:
        Hot / warm / cold cutoff settings.
    cv:
        Folds for the out-of-fold predictions that calibration and the threshold use.
    random_state:
        Seed for folds and models.
    params:
        Estimator settings that replace the family's defaults (as found by tuning,
        ``leadscore.modeling.tuning``).

    Attributes
    ----------
    schema_ : InputSchema
        The input columns and their types; new data is checked against it.
    cutoffs_ : Cutoffs
        Contact threshold and hot / warm cutoffs on the calibrated probability.
    threshold_choice_ : ThresholdChoice
        Profit at the threshold next to contacting everyone / no one.
    cv_metrics_ : dict
        Cross-validated metrics of the calibrated probabilities.

    Example
    -------
    >>> from leadscore.demo import generate_leads
    >>> demo = generate_leads(300, seed=1).table
    >>> X, y = demo.drop(columns=["lead_id", "converted", "sales_status"]), demo["converted"]
    >>> model = LeadModel("logreg_l2", cv=3).fit(X, y)
    >>> model.predict_proba(X.head(2)).shape
    (2, 2)
    """

    def __init__(
        self,
        model: str = "lightgbm",
        business: Business | None = None,
        segments: Segments | None = None,
        cv: int = 5,
        random_state: int = 0,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.business = business
        self.segments = segments
        self.cv = cv
        self.random_state = random_state
        self.params = params

    # ------------------------------------------------------------------ fitting

    def fit(
        self,
        X: pd.DataFrame,
        y: Any,
        *,
        time_column: str | None = None,
        kinds: dict[str, ColumnKind] | None = None,
        oof: np.ndarray | None = None,
        fold_models: list[Any] | None = None,
        id_column: str | None = None,
        missing_values: list[str] | None = None,
        info: dict[str, Any] | None = None,
        forward: bool = False,
        sample_weight: Any = None,
    ) -> LeadModel:
        """Fit the pipeline on all rows; calibrate and set thresholds on out-of-fold scores.

        Parameters
        ----------
        X:
            Feature columns (raw or already typed by ``prepare_table``).
        y:
            Outcomes: 1/0, yes/no, true/false or won/lost.
        time_column:
            Column of ``X`` with the lead creation time: folds become time-ordered.
        kinds:
            Column kinds when ``X`` is already typed; otherwise they are inferred.
        oof:
            Out-of-fold raw probabilities from a comparison on the same rows, to avoid
            fitting the folds again.
        fold_models:
            The fitted fold models behind ``oof``. With shuffled (not time-ordered) folds
            the final model is their average; otherwise it is refitted on all rows, since
            the early time folds saw only the oldest leads.
        id_column:
            Name of the id column in scoring inputs, used by :meth:`score`.
        missing_values:
            Placeholder strings treated as missing in scoring inputs.
        info:
            Extra metadata saved with the model (leaderboard, excluded columns, …).
        forward:
            The rows are in time order (without a time column): validate forward in row
            order and refit on all rows, like a time column does.
        sample_weight:
            One weight per row (each lead counts as that many): the fits, calibration,
            threshold and metrics are weighted (``oof`` must then come from a comparison
            weighted the same). ``None``: every lead counts once, exactly as unweighted.
        """
        from leadscore.config import DEFAULT_MISSING_VALUES, Settings

        if not isinstance(X, pd.DataFrame):
            raise SchemaError("LeadModel.fit needs a pandas DataFrame with named columns")
        if len(X) == 0:
            raise SchemaError("cannot fit on an empty table")
        missing_values = list(missing_values or DEFAULT_MISSING_VALUES)
        settings = Settings()
        y_arr = coerce_target(
            pd.Series(np.asarray(y), name="target"),
            settings.positive_labels,
            settings.negative_labels,
        )
        if np.isnan(y_arr).any():
            raise SchemaError("the target has missing values; drop unlabelled leads first")
        y_int = y_arr.astype(int)
        if len(np.unique(y_int)) < 2:
            raise SchemaError("the target has one class only; a model needs both outcomes")
        if kinds is None:
            typed, kinds = {}, {}
            for name in X.columns:
                typed[name], kinds[name], _ = standardise_column(X[name], missing_values)
            X = pd.DataFrame(typed, index=X.index)
        X = X.reset_index(drop=True)
        w = None if sample_weight is None else check_weights(sample_weight, len(X))

        business = self.business or Business()
        segments = self.segments or Segments()
        (candidate,) = get_families([self.model])
        profile = DataProfile(len(X), int(y_int.sum()))
        plan = plan_columns(X, kinds, reference_time=time_column)
        pipeline = candidate.pipeline(plan, profile, self.random_state, params=self.params)

        time_ordered = time_column is not None or forward
        if oof is None:
            time_values = (
                X[time_column]
                if time_column is not None
                else pd.Series(np.arange(len(X)), dtype=float)
                if forward
                else None
            )
            from leadscore.modeling.compare import cross_validate  # not paid by a load

            repeats = 3 if profile.small and not time_ordered else 1
            folds = make_folds(y_int, time_values, self.cv, repeats, self.random_state)
            result = cross_validate(
                X, y_int, [candidate], folds=folds, plan=plan, profile=profile,
                seed=self.random_state, n_jobs=1, keep_models=not time_ordered,
                params={candidate.name: self.params or {}}, sample_weight=w,
            )[candidate.name]  # fmt: skip
            oof, fold_models = result.oof, result.models
        if fold_models and not time_ordered:
            self.pipeline_ = FoldEnsemble.from_fitted(fold_models)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.pipeline_ = fit_weighted(pipeline, X, y_int, w)
        seen = ~np.isnan(oof)
        w_seen = part(w, seen)
        self.calibrator_ = LogitCalibrator().fit(oof[seen], y_int[seen], w_seen)
        p_oof = self.calibrator_.transform(oof[seen])
        self.threshold_choice_: ThresholdChoice = choose_threshold(
            y_int[seen], p_oof, business, w_seen
        )
        self.cutoffs_: Cutoffs = derive_cutoffs(p_oof, self.threshold_choice_.threshold, segments)
        self.cv_metrics_ = evaluate(y_int[seen], p_oof, self.cutoffs_.contact, business, w_seen)
        # out-of-fold scores of the training leads: what evaluation reports are drawn from
        self.evaluation_ = pd.DataFrame({"y": y_int[seen], "raw": oof[seen], "score": p_oof})
        if w_seen is not None:
            self.evaluation_["weight"] = w_seen
        self.importance_: pd.DataFrame | None = None
        self.schema_ = InputSchema.from_frame(X, missing_values)
        # training leads that explanations measure against ("typical", "high") and attribute from
        self.background_ = X.sample(min(BACKGROUND_ROWS, len(X)), random_state=self.random_state)
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.id_column_ = id_column
        self.time_column_ = time_column
        self.business_ = business
        self.metadata_ = {
            "model": candidate.name,
            "model_label": candidate.label,
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "rows": len(X),
            "positive_rate": float(y_int.mean()),
            "data_fingerprint": fingerprint(X, y_int),
            "time_window": _window(X, time_column),
            "data_window": _window(X, time_column, iso=True),  # retraining judges after it
            "cv_metrics": self.cv_metrics_,
            "threshold": self.threshold_choice_.to_dict(),
            "cutoffs": self.cutoffs_.to_dict(),
            "segment_shares": segment_shares(p_oof, self.cutoffs_),
            "segment_note": segment_note(p_oof, self.cutoffs_),
            "business": business.model_dump(),
            "business_defaults": business.from_defaults,  # reports say so (Business.basis)
            "segments": segments.model_dump(),
            "params": dict(self.params or {}),
            "id_column": id_column,
            "time_column": time_column,
            **({} if w is None else {"sample_weight": _described(w)}),
            **(info or {}),
        }
        return self

    # ------------------------------------------------------------------ scoring

    def _conformed(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "pipeline_")
        if not isinstance(X, pd.DataFrame):
            raise SchemaError("scoring needs a pandas DataFrame with named columns")
        return self.schema_.conform(X)

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        """Uncalibrated probability of conversion from the underlying estimator."""
        return self.pipeline_.predict_proba(self._conformed(X))[:, 1]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities, shape ``(n, 2)``: column 1 is "converts"."""
        check_is_fitted(self, "calibrator_")
        p = self.calibrator_.transform(self.predict_raw(X))
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """1 where contacting the lead is profitable (score at or above the threshold)."""
        return (self.predict_proba(X)[:, 1] >= self.cutoffs_.contact).astype(int)

    def score_leads(
        self,
        X: pd.DataFrame,
        capacity: int | None = None,
        as_of: pd.Timestamp | None = None,
    ) -> pd.DataFrame:
        """Per lead: id, score (0–1), score_100, segment, rank and whether to contact.

        With ``capacity`` the team contacts only its ``capacity`` best leads of this batch;
        otherwise every lead at or above the profit-optimal threshold. When the model has
        a time column, ``age_days`` says how old each lead is at ``as_of`` (default: now,
        UTC), for the sales team; it is not a model input.
        """
        check_is_fitted(self, "cutoffs_")
        capacity = capacity if capacity is not None else self.business_.capacity
        if capacity is not None and capacity < 1:
            raise LeadscoreError(f"capacity must be at least 1 lead, not {capacity}")
        conformed = self._conformed(X)
        p = self.calibrator_.transform(self.pipeline_.predict_proba(conformed)[:, 1])
        if self.id_column_ and self.id_column_ in X.columns:
            ids = X[self.id_column_].astype(str).to_numpy()
        else:
            ids = np.arange(1, len(X) + 1).astype(str)
        decided = self.cutoffs_.decide(p, capacity)
        rank = pd.Series(-p).rank(method="first").astype(int).to_numpy()
        result = pd.DataFrame(
            {
                self.id_column_ or "lead": ids,
                "score": p,
                "score_100": decided.score_100,
                "segment": decided.segment,
                "rank": rank,
                "contact": decided.contact,
            }
        )
        if self.time_column_:
            now = as_of if as_of is not None else pd.Timestamp.now(tz="UTC").tz_localize(None)
            age = (now - conformed[self.time_column_]) / pd.Timedelta(days=1)
            result["age_days"] = age.round(1).to_numpy()
        return result

    def event_features(
        self,
        events: pd.DataFrame,
        as_of: pd.Timestamp | str | None = None,
        leads: TableLike | CrmTable | None = None,
    ) -> pd.DataFrame:
        """Lead features from raw events (``load_events``), as the model was trained on.

        Needs a model trained on a table built by ``leadscore features``: its feature
        builder turns the events into features as of ``as_of`` (default: the latest event).
        A model trained with CRM fields (``features --leads``) takes them from ``leads``
        (a CRM table as for training, read as of ``as_of``; its leads without events are
        scored too); without it they are missing.
        """
        builder = getattr(self, "feature_builder_", None)
        if builder is None:
            raise LeadscoreError(
                "this model was not trained on event features (leadscore features), so it "
                "cannot score raw events; score a lead table instead"
            )
        features = builder.transform(events, as_of=as_of)
        if leads is None:
            return features
        crm = leads if isinstance(leads, CrmTable) else read_crm(leads)
        joined, _, _ = join_crm(
            add_crm_only_leads(features, crm),
            crm,
            cutoffs=pd.Timestamp(as_of) if as_of is not None else None,
        )
        return joined

    @property
    def crm_fields(self) -> list[str]:
        """The inputs that come from the CRM (``leadscore features --leads``), not from
        events: live scoring takes them from a lead's stored attributes."""
        sources = self.metadata_.get("field_sources") or {}
        return list(sources.get("crm", []))

    def score_events(
        self,
        events: pd.DataFrame,
        as_of: pd.Timestamp | str | None = None,
        capacity: int | None = None,
    ) -> pd.DataFrame:
        """:meth:`score_leads` on :meth:`event_features`."""
        features = self.event_features(events, as_of)
        return self.score_leads(
            features, capacity=capacity, as_of=pd.Timestamp(as_of) if as_of else None
        )

    # ------------------------------------------------------------------ persistence

    def __getstate__(self) -> dict[str, Any]:
        # The evaluation scores are saved beside the model, not inside its pickle.
        state = dict(self.__dict__)
        state.pop("evaluation_", None)
        return state

    def without_estimators(self) -> LeadModel:
        """A copy without the fitted pipeline: schema, cutoffs, metadata and feature builder
        only, for a service whose compiled scorer does not call the estimators (see
        :meth:`leadscore.scoring.realtime.scorer.FastScorer.detached`). It cannot predict or be
        saved; it says so when asked to."""
        light = copy.copy(self)
        light.pipeline_ = EstimatorsLeftOut(self.model)
        return light

    def save(
        self,
        directory: str | Path,
        *,
        add: Callable[[LeadModel, Path, str], dict[str, Any] | None] | None = None,
    ) -> Path:
        """Save as a directory: ``model.joblib`` plus ``metadata.json`` with its checksum
        (and the out-of-fold scores and importances reports read).

        ``add(model, folder, checksum)`` writes further files into the folder after the
        model and before the metadata, and returns their metadata entries: that is how
        :func:`leadscore.lifecycle.artifacts.save_model` adds the compiled real-time scorer
        (``scorer.bin``), which a service then swaps in without compiling. The metadata is
        written last and replaced whole, so a service watching the folder never reads half
        of it."""
        check_is_fitted(self, "pipeline_")
        if isinstance(self.pipeline_, EstimatorsLeftOut):
            raise LeadscoreError(
                "this copy of the model was loaded without its fitted estimators (to serve); "
                "save the model it was loaded from instead"
            )
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        model_path = out / MODEL_FILE
        tmp = out / f".{MODEL_FILE}.partial"
        joblib.dump(self, tmp)
        tmp.replace(model_path)
        evaluation = getattr(self, "evaluation_", None)
        if evaluation is not None:
            evaluation.to_parquet(out / EVALUATION_FILE, index=False)
        importance = getattr(self, "importance_", None)
        if importance is not None:
            importance.to_csv(out / IMPORTANCE_FILE, index=False)
        checksum = file_sha256(model_path)
        added = add(self, out, checksum) if add is not None else None
        meta = {
            "format": ARTIFACT_FORMAT,
            "sha256": checksum,
            "libraries": library_versions(),
            "schema": self.schema_.to_dict(),
            **(added or {}),
            **self.metadata_,
        }
        write_metadata(out, meta)
        return out

    @classmethod
    def load(cls, directory: str | Path) -> LeadModel:
        """Load a saved model, refusing a tampered, unsigned or incompatible artifact."""
        path = Path(directory)
        meta = read_trusted_metadata(path)
        model_path = path / MODEL_FILE
        if file_sha256(model_path) != meta.get("sha256"):
            raise tampered(model_path)
        try:
            model = joblib.load(model_path)
        except Exception as exc:  # unpickling can fail in many ways; all mean "unusable"
            raise ArtifactError(f"cannot load {model_path}: {exc}") from None
        if not isinstance(model, cls):
            raise ArtifactError(f"{model_path} does not hold a LeadModel")
        return model


def _window(X: pd.DataFrame, time: str | None, iso: bool = False) -> dict[str, str] | None:
    """The training leads' first and last time (``iso``: ISO 8601, none when unreadable)."""
    if not time or (iso and X[time].isna().all()):
        return None
    start, end = X[time].min(), X[time].max()
    if iso:
        return {"start": pd.Timestamp(start).isoformat(), "end": pd.Timestamp(end).isoformat()}
    return {"start": str(start), "end": str(end)}


def _described(w: np.ndarray) -> dict[str, float]:
    """What the metadata says of the training weights."""
    return {"min": float(w.min()), "max": float(w.max()), "sum": float(w.sum())}


def load_model(directory: str | Path) -> LeadModel:
    """Alias of :meth:`LeadModel.load`."""
    return LeadModel.load(directory)


__all__ = ["LeadModel", "LeadscoreError", "load_model"]
