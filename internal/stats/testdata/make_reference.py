#!/usr/bin/python3
"""Writes the reference values that studentt_test.go, margin_test.go and series_test.go compare
with, computed independently of the Go code with SciPy (written against Debian bookworm's
python3-scipy 1.10.1, python3-numpy 1.24.2 and python3-mpmath 1.2.1):

  student_t.json     scipy.stats.t.cdf, and quantiles solved with mpmath at 40 digits (SciPy
                     1.10's t.ppf is off by up to ~4e-9 relative; mpmath agrees with the Go code)
  paired_margin.json the Nam/Tango score test, with the constrained maximum-likelihood estimate
                     found numerically (scipy.optimize.minimize_scalar) rather than by the closed
                     form the Go code uses, and the p-value from scipy.stats.norm.sf
  batch_median.json  series, their medians, batch medians and t intervals (numpy, scipy)
  clopper_pearson.json  exact binomial intervals, beta quantiles solved with mpmath at 40 digits

Run from the repository root: /usr/bin/python3 internal/stats/testdata/make_reference.py
"""
import json
import os

import mpmath
import numpy as np
import scipy
from scipy import optimize, stats

HERE = os.path.dirname(os.path.abspath(__file__))


def dump(name, obj):
    with open(os.path.join(HERE, name), "w") as f:
        json.dump({"scipy": scipy.__version__, "numpy": np.__version__, "cases": obj}, f, indent=1)
        f.write("\n")


def t_quantile(p, df):
    """The Student-t quantile by root-finding on the regularized incomplete beta in mpmath."""
    mpmath.mp.dps = 40
    p, df = mpmath.mpf(p), mpmath.mpf(df)
    if p == mpmath.mpf("0.5"):
        return 0.0

    def lower(t):  # P(T <= t) for t <= 0
        return mpmath.betainc(df / 2, mpmath.mpf("0.5"), 0, df / (df + t * t), regularized=True) / 2

    if p < 0.5:
        return float(mpmath.findroot(lambda t: lower(t) - p, mpmath.mpf(stats.t.ppf(float(p), float(df)))))
    return -t_quantile(float(1 - p), float(df))


def student_t():
    cases = []
    for df in (1, 2, 3, 4.5, 9, 19, 30, 100, 1e4):
        for t in (-40.0, -5.0, -2.0, -1.0, -0.3, 0.0, 0.7, 2.5, 12.0):
            cases.append({"kind": "cdf", "x": t, "df": df, "want": float(stats.t.cdf(t, df))})
        for p in (1e-12, 1e-6, 0.001, 0.025, 0.1, 0.5, 0.8, 0.975, 0.995):
            cases.append({"kind": "ppf", "x": p, "df": df, "want": t_quantile(p, df)})
    dump("student_t.json", cases)


def paired_margin():
    cases = []
    tables = [  # both, A only (gained), B only (lost), neither
        (950, 2, 14, 34), (950, 10, 10, 30), (980, 0, 0, 20), (80, 1, 9, 10), (9000, 20, 120, 860),
        (25, 0, 3, 2), (500, 40, 5, 55), (100, 3, 3, 0), (0, 0, 7, 0), (700, 0, 40, 260),
    ]
    for both, gained, lost, neither in tables:
        n = both + gained + lost + neither
        for margin in (0.0, 0.01, 0.02, 0.05, 0.1):
            # Log-likelihood over qG with qL = qG + margin, by numerical maximisation.
            rest = n - gained - lost

            def nll(q):
                total = 0.0
                for count, prob in ((lost, q + margin), (gained, q), (rest, 1 - 2 * q - margin)):
                    if count:
                        total -= count * np.log(prob)
                return total

            upper = (1 - margin) / 2
            if gained == 0 and lost == 0 and margin == 0:
                q = 0.0  # nothing discordant: the likelihood is maximal at q = 0
            else:
                r = optimize.minimize_scalar(nll, bounds=(1e-15, upper - 1e-15), method="bounded",
                                             options={"xatol": 1e-14, "maxiter": 10000})
                q = float(r.x)
                if gained == 0 and nll(0.0 + 1e-300) <= r.fun:
                    q = 0.0
            v = n * (2 * q + margin - margin * margin)
            num = lost - gained - n * margin - 1  # continuity correction of one image
            if v <= 0:
                z, p = 0.0, 1.0
            else:
                z = num / np.sqrt(v)
                p = float(stats.norm.sf(z))
            cases.append({"both": both, "a_only": gained, "b_only": lost, "neither": neither,
                          "margin": margin, "q_gained": q, "z": float(z), "p": p})
    dump("paired_margin.json", cases)


def batch_median():
    rng = np.random.default_rng(20260)
    cases = []
    for n, k, level in ((50, 5, 0.95), (103, 10, 0.95), (400, 20, 0.9), (37, 2, 0.99)):
        # An autocorrelated, heavy-tailed series, like log latency ratios under bursts of load.
        e = rng.standard_t(3, size=n)
        x = np.empty(n)
        x[0] = e[0]
        for i in range(1, n):
            x[i] = 0.6 * x[i - 1] + e[i]
        x = 0.05 * x + 0.1
        meds = [np.median(x[j * n // k:(j + 1) * n // k]) for j in range(k)]
        se = np.std(meds, ddof=1) / np.sqrt(k)
        half = stats.t.ppf(1 - (1 - level) / 2, k - 1) * se
        c = float(np.median(x))
        cases.append({"x": [float(v) for v in x], "batches": k, "level": level,
                      "estimate": c, "lo": c - float(half), "hi": c + float(half)})
    dump("batch_median.json", cases)


def clopper_pearson():
    mpmath.mp.dps = 40

    def beta_q(p, a, b):
        """Bisection on mpmath's regularized incomplete beta, 200 halvings at 40 digits."""
        p, a, b = mpmath.mpf(p), mpmath.mpf(a), mpmath.mpf(b)
        lo, hi = mpmath.mpf(0), mpmath.mpf(1)
        for _ in range(200):
            mid = (lo + hi) / 2
            if mpmath.betainc(a, b, 0, mid, regularized=True) < p:
                lo = mid
            else:
                hi = mid
        return float((lo + hi) / 2)

    cases = []
    for k, n, level in ((0, 300, 0.95), (1, 300, 0.95), (3, 300, 0.95), (0, 30, 0.95), (15, 30, 0.95),
                        (30, 30, 0.95), (7, 1000, 0.9), (999, 1000, 0.99), (1, 2, 0.95)):
        tail = (1 - level) / 2
        lo = 0.0 if k == 0 else beta_q(tail, k, n - k + 1)
        hi = 1.0 if k == n else beta_q(1 - tail, k + 1, n - k)
        cases.append({"k": k, "n": n, "level": level, "lo": lo, "hi": hi})
    dump("clopper_pearson.json", cases)


student_t()
paired_margin()
batch_median()
clopper_pearson()
