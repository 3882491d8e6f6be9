"""Step n-grams: the occurrences, the leads per gram and the counts per lead agree with a
plain count over each lead's collapsed path."""

from __future__ import annotations

from collections import Counter

import numpy as np

from leadscore.features.journey import gram_keys, gram_name, gram_support

STEPS = ["home", "pricing", "blog", "signup", "other"]


def _paths(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    leads = np.sort(rng.integers(0, 60, 900))  # events sorted by lead
    return leads, rng.integers(0, len(STEPS), len(leads))


def _expected(leads: np.ndarray, steps: np.ndarray, sizes: tuple[int, ...]) -> Counter:
    """(lead, gram name) → occurrences, counted path by path."""
    found: Counter = Counter()
    for lead in np.unique(leads):
        path = [STEPS[s] for s in steps[leads == lead]]
        path = [s for i, s in enumerate(path) if i == 0 or s != path[i - 1]]  # repeats
        for n in sizes:
            for i in range(len(path) - n + 1):
                found[(int(lead), " > ".join(path[i : i + n]))] += 1
    return found


def test_gram_occurrences_and_support_match_a_count_per_path() -> None:
    leads, steps = _paths(4)
    found_leads, keys = gram_keys(leads, steps, len(STEPS), (2, 3))
    got = Counter(
        (int(lead), gram_name(int(k), STEPS)) for lead, k in zip(found_leads, keys, strict=True)
    )
    expected = _expected(leads, steps, (2, 3))
    assert got == expected
    support = gram_support(found_leads, keys)
    by_name = {gram_name(int(k), STEPS): int(v) for k, v in support.items()}
    leads_per_gram = Counter(name for _, name in expected)
    assert by_name == dict(leads_per_gram)


def test_only_keeps_the_asked_grams() -> None:
    leads, steps = _paths(9)
    all_leads, all_keys = gram_keys(leads, steps, len(STEPS), (2,))
    wanted = np.unique(all_keys)[:3]
    some_leads, some_keys = gram_keys(leads, steps, len(STEPS), (2,), only=wanted)
    mask = np.isin(all_keys, wanted)
    assert some_keys.tolist() == all_keys[mask].tolist()
    assert some_leads.tolist() == all_leads[mask].tolist()
    assert len(some_keys) < len(all_keys)
