#!/usr/bin/python3
"""Regenerates golden.json, the reference values internal/guard's tests compare against.

Expects Debian bookworm's python3-sklearn 1.2.1, python3-scipy 1.10.1 and python3-numpy 1.24.2
(already installed: this script imports them, it installs nothing). Run from this folder:

    /usr/bin/python3 gen_golden.py

- ledoit_wolf: sklearn.covariance.LedoitWolf(assume_centered=True) on seeded data with exact
  zeros (as rectified features have), taken as already centred, its shrinkage and covariance.
- beta_ppf: scipy.stats.beta.ppf, the quantiles the conformal interval is made of.
"""
import json

import numpy as np
import scipy
import sklearn
from scipy.stats import beta
from sklearn.covariance import LedoitWolf

rng = np.random.default_rng(20240501)
cases = []
for n, p in [(60, 6), (25, 12), (400, 3)]:
    x = rng.normal(size=(n, p)) @ rng.normal(size=(p, p))
    x[rng.random(size=(n, p)) < 0.3] = 0.0
    lw = LedoitWolf(assume_centered=True).fit(x)
    cases.append({"n": n, "p": p, "x": x.ravel().tolist(), "shrinkage": lw.shrinkage_, "covariance": lw.covariance_.ravel().tolist()})

ppf = []
for q, a, b in [(0.025, 30, 2971), (0.975, 30, 2971), (0.025, 1, 99), (0.975, 1, 99), (0.5, 5, 5), (0.025, 2, 199), (0.975, 50, 4951)]:
    ppf.append({"q": q, "a": a, "b": b, "x": float(beta.ppf(q, a, b))})

with open("golden.json", "w") as f:
    json.dump({"generator": f"gen_golden.py with numpy {np.__version__}, scipy {scipy.__version__}, sklearn {sklearn.__version__}",
               "ledoit_wolf": cases, "beta_ppf": ppf}, f, indent=1)
