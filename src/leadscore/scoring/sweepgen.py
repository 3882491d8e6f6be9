"""Writes :mod:`leadscore.scoring.sweeps`: the tree SHAP kernel's quadrature, one function
per path size.

For a bucket of groups with ``d`` features on their paths, the kernel needs, per group and
per feature ``k``, ``∫₀¹ Π_{i≠k} (r_i + e_i t) dt`` by the Gauss–Legendre rule with
``⌈d/2⌉`` nodes (see :mod:`leadscore.scoring.treeshap`). Written out for a fixed ``d`` —
every factor, prefix and suffix product a local variable, the rule's nodes unrolled — the
loop over groups holds no inner loop and no array but its inputs and outputs, so the
compiler keeps everything in registers and vectorises across groups, which it cannot do
for the same arithmetic as loops over ``k`` and ``q`` with ``d`` known only at run time.

Python cannot write such functions generically for numba (``d`` must be a constant of the
source), so they are generated, into a real module that numba can cache. Regenerate after
changing this file (a test checks that the module is current)::

    python -m leadscore.scoring.sweepgen
"""

from __future__ import annotations

from pathlib import Path

#: the largest path size with a written-out sweep; deeper buckets take the generic loop
MAX_WRITTEN = 8

_HEADER = '''"""The tree SHAP kernel's quadrature, one function per path size (generated).

Do not edit: written by ``python -m leadscore.scoring.sweepgen`` (see that module).

``sweep_dD(rate, delta, kept, m, t, w)``: for each of the first ``m`` groups (columns) and
each path feature ``k < D`` (rows), ``kept[k, j] = Σ_q w[q] Π_{i≠k} (rate[i, j] +
delta[i, j] t[q])`` over the ``⌈D/2⌉`` nodes of the rule.
"""

import numba
import numpy as np
'''


def _sweep(d: int) -> str:
    nodes = (d + 1) // 2
    lines = ["@numba.njit(nogil=True, cache=True)", f"def sweep_d{d}(rate, delta, kept, m, t, w):"]
    if d == 1:  # the integral of an empty product: the rule's one weight
        lines += ["    for j in range(np.uint64(m)):", "        kept[0, j] = w[0]"]
        return "\n".join(lines)
    lines += [f"    t{q}, w{q} = t[{q}], w[{q}]" for q in range(nodes)]
    # unsigned loop counters: numba indexes without the negative-index correction
    lines.append("    for j in range(np.uint64(m)):")
    for k in range(d):
        lines.append(f"        r{k}, e{k} = rate[{k}, j], delta[{k}, j]")
    for q in range(nodes):
        # f_k enters the prefixes after it and the suffixes before it
        lines += [f"        f{k} = r{k} + e{k} * t{q}" for k in range(d)]
        # prefix a_k = w · Π_{i<k} f_i and suffix b_k = Π_{i>k} f_i
        lines.append(f"        a0 = w{q}")
        lines += [f"        a{k} = a{k - 1} * f{k - 1}" for k in range(1, d)]
        lines.append(f"        b{d - 1} = 1.0")
        lines += [f"        b{k} = b{k + 1} * f{k + 1}" for k in range(d - 2, -1, -1)]
        if q == 0:
            lines += [f"        k{k} = a{k} * b{k}" for k in range(d)]
        else:
            lines += [f"        k{k} += a{k} * b{k}" for k in range(d)]
    lines += [f"        kept[{k}, j] = k{k}" for k in range(d)]
    return "\n".join(lines)


def render() -> str:
    """The source of :mod:`leadscore.scoring.sweeps`."""
    sweeps = "\n\n\n".join(_sweep(d) for d in range(1, MAX_WRITTEN + 1))
    return f"{_HEADER}\n\n{sweeps}\n"


def target() -> Path:
    return Path(__file__).with_name("sweeps.py")


def main() -> None:
    target().write_text(render())
    print(f"wrote {target()}")


if __name__ == "__main__":
    main()
