#!/usr/bin/env python3
"""Writes wide_reference.txt: SVCCA, CCA and linear-CKA reference values for generated pairs of
layer-like representations at real widths (256-1024 neurons, 600-5000 data points), computed with
google/svcca's cca_core (https://github.com/google/svcca, not part of this repository) and numpy.

The matrices are not stored: WideReferenceTest (Java) regenerates them bit for bit up to matrix-product
rounding from the same tiny seeded generator (splitmix64 + Box-Muller), defined here and in
dev.stethoscope.probes.similarity.WideMats. Written for Stethoscope.

Run:  git -C <mirror of google/svcca> show HEAD:cca_core.py > /tmp/svcca/cca_core.py
      python3 make_wide_reference.py --svcca /tmp/svcca   (writes wide_reference.txt next to this script)
"""
import argparse
import os
import sys
import time

import numpy as np

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
EPS = 1e-10     # cca_core epsilon; the Java default
KEEP = 0.99     # SVCCA: kept fraction of variance
LATENT = 32     # latent signals shared by both sides of a pair

# name, neurons A, neurons B, data points, seed
CASES = [
    ("w256", 256, 256, 1000, 11),
    ("w512", 512, 512, 1000, 12),
    ("w512x256", 512, 256, 2000, 13),
    ("w1000", 1000, 1000, 4000, 14),
    ("near1000", 1000, 500, 1100, 15),
    ("w1024", 1024, 1024, 5000, 16),
    ("wide800", 800, 800, 600, 17),
]


def splitmix_uniform(seed, count):
    """count uniforms in [0, 1): output k (k = 1..count) of splitmix64 seeded with seed, top 53 bits."""
    k = np.arange(1, count + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(seed & MASK) + k * np.uint64(GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def gaussian(seed, rows, cols):
    """rows x cols standard normals, row-major: pairs (2i, 2i+1) from Box-Muller on uniforms (2i, 2i+1)."""
    n = rows * cols
    u = splitmix_uniform(seed, n + (n & 1))
    u1 = 1.0 - u[0::2]            # (0, 1]
    u2 = u[1::2]
    r = np.sqrt(-2.0 * np.log(u1))
    out = np.empty(u.shape[0])
    out[0::2] = r * np.cos(2.0 * np.pi * u2)
    out[1::2] = r * np.sin(2.0 * np.pi * u2)
    return out[:n].reshape(rows, cols)


def pair(na, nb, m, seed):
    """A = relu(Wa Z + 0.5 Na), B = relu(Wb Z + 0.5 Nb) over shared latents Z; dead (constant) units:
    rows i % 10 == 3 of A are 0, rows i % 13 == 5 of B are 0.7."""
    z = gaussian(seed * 1000 + 1, LATENT, m)
    scale = 1.0 / np.sqrt(1.0 + np.arange(LATENT))          # decaying latent strengths
    wa = gaussian(seed * 1000 + 2, na, LATENT) * scale
    wb = gaussian(seed * 1000 + 3, nb, LATENT) * scale
    a = np.maximum(wa @ z + 0.5 * gaussian(seed * 1000 + 4, na, m), 0.0)
    b = np.maximum(wb @ z + 0.5 * gaussian(seed * 1000 + 5, nb, m), 0.0)
    a[3::10] = 0.0
    b[5::13] = 0.7
    return a, b


def sv_reduce(acts, keep):
    """Centre each neuron, SVD, keep the smallest k whose squared singular values reach keep of the total
    (among the numerically non-zero ones); returns the k x m reduced activations."""
    c = acts - acts.mean(axis=1, keepdims=True)
    u, s, vt = np.linalg.svd(c, full_matrices=False)
    tol = s[0] * max(acts.shape) * np.finfo(float).eps
    s = s[s > tol]
    frac = np.cumsum(s ** 2) / np.sum(s ** 2)
    k = min(int(np.searchsorted(frac, keep * (1 - 1e-12)) + 1), len(s))
    return s[:k, None] * vt[:k], k


def cka(a, b):
    x = (a - a.mean(axis=1, keepdims=True)).T
    y = (b - b.mean(axis=1, keepdims=True)).T
    return float(np.linalg.norm(y.T @ x) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--svcca", required=True, help="directory holding google/svcca's cca_core.py")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "wide_reference.txt"))
    args = ap.parse_args()
    sys.path.insert(0, args.svcca)
    import cca_core

    lines = ["# made by make_wide_reference.py with google/svcca cca_core (epsilon %r), numpy %s" % (EPS, np.__version__),
             "# case name neuronsA neuronsB points seed; then svcca (keep %r): kA kB mean; cca (all directions):"
             " kA kB mean; cka" % KEEP]
    for name, na, nb, m, seed in CASES:
        t0 = time.time()
        a, b = pair(na, nb, m, seed)
        lines.append("case %s %d %d %d %d" % (name, na, nb, m, seed))
        lines.append("checksum %r %r" % (float(a.sum()), float(b.sum())))
        for key, keep in (("svcca", KEEP), ("cca", 1.0)):
            ra, ka = sv_reduce(a, keep)
            rb, kb = sv_reduce(b, keep)
            res = cca_core.get_cca_similarity(ra, rb, epsilon=EPS, verbose=False)
            rho = np.asarray(res["cca_coef1"])
            lines.append("%s %d %d %r" % (key, ka, kb, float(np.mean(rho))))
        lines.append("cka %r" % cka(a, b))
        print(name, "%.1f s" % (time.time() - t0), lines[-3:], flush=True)
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
