#!/usr/bin/env python3
"""Writes reference.txt: two small matrices and SVCCA / PWCCA / CKA values computed
with numpy along a different route from the Java code (raw covariances, pseudo-inverse
and eigen square roots, as google/svcca's cca_core does; PWCCA from the paper's
definition; CKA from Gram matrices). Written for Stethoscope; run: python3 make_reference.py
"""
import numpy as np

EPS = 1e-10
KEEP = 0.99


def sv_reduce(acts, keep):
    c = acts - acts.mean(axis=1, keepdims=True)
    u, s, vt = np.linalg.svd(c, full_matrices=False)
    tol = s[0] * max(acts.shape) * np.finfo(float).eps
    s = s[s > tol]
    frac = np.cumsum(s ** 2) / np.sum(s ** 2)
    k = int(np.searchsorted(frac, keep * (1 - 1e-12)) + 1)
    k = min(k, len(s))
    return (s[:k, None] * vt[:k]), k


def inv_sqrt_psd(mat):
    w, v = np.linalg.eigh(np.linalg.pinv(mat))
    w = np.clip(w, 0, None)
    return v @ np.diag(np.sqrt(w)) @ v.T


def cca(x, y, eps):
    """Canonical correlations via raw covariances (cca_core's recipe). Returns rho, u, inv_sqrt_xx."""
    nx = x.shape[0]
    cov = np.cov(x, y)
    sxx, sxy, syy = cov[:nx, :nx], cov[:nx, nx:], cov[nx:, nx:]
    xmax, ymax = np.max(np.abs(sxx)), np.max(np.abs(syy))
    sxx = sxx / xmax
    syy = syy / ymax
    sxy = sxy / np.sqrt(xmax * ymax)
    ix = np.abs(np.diag(sxx)) >= eps
    iy = np.abs(np.diag(syy)) >= eps
    sxx, syy, sxy = sxx[ix][:, ix], syy[iy][:, iy], sxy[ix][:, iy]
    sxx = sxx + eps * np.eye(sxx.shape[0])
    syy = syy + eps * np.eye(syy.shape[0])
    wx, wy = inv_sqrt_psd(sxx), inv_sqrt_psd(syy)
    u, s, vt = np.linalg.svd(wx @ sxy @ wy)
    return np.abs(s), u, vt.T, wx, wy, ix, iy


def svcca(a, b, keep=KEEP):
    ra, ka = sv_reduce(a, keep)
    rb, kb = sv_reduce(b, keep)
    rho = cca(ra, rb, EPS)[0]
    return rho, ka, kb


def pwcca(a, b):
    """Paper definition: weights from unit-normalised canonical variates of the side with
    fewer directions against that side's centred neurons; CCA on all directions."""
    ra, ka = sv_reduce(a, 1.0)
    rb, kb = sv_reduce(b, 1.0)
    rho, u, v, wx, wy, ix, iy = cca(ra, rb, EPS)
    k = min(ka, kb)
    if ka <= kb:
        coef, w, red, acts = u[:, :k], wx, ra, a
    else:
        coef, w, red, acts = v[:, :k], wy, rb, b
    h = (coef.T @ w) @ red            # k x m canonical variates
    h = h / np.linalg.norm(h, axis=1, keepdims=True)
    z = acts - acts.mean(axis=1, keepdims=True)
    alpha = np.abs(h @ z.T).sum(axis=1)
    alpha = alpha / alpha.sum()
    return float(np.sum(alpha * rho[:k])), rho[:k]


def hsic_biased(k, l):
    m = k.shape[0]
    h = np.eye(m) - np.ones((m, m)) / m
    return np.trace(k @ h @ l @ h)


def hsic_unbiased(k, l):
    m = k.shape[0]
    kt, lt = k.copy(), l.copy()
    np.fill_diagonal(kt, 0)
    np.fill_diagonal(lt, 0)
    one = np.ones(m)
    return (np.trace(kt @ lt) + (one @ kt @ one) * (one @ lt @ one) / ((m - 1) * (m - 2))
            - 2.0 / (m - 2) * (one @ kt @ lt @ one)) / (m * (m - 3))


def cka(a, b, unbiased):
    x = (a - a.mean(axis=1, keepdims=True)).T
    y = (b - b.mean(axis=1, keepdims=True)).T
    k, l = x @ x.T, y @ y.T
    f = hsic_unbiased if unbiased else hsic_biased
    return f(k, l) / np.sqrt(f(k, k) * f(l, l))


def main():
    rng = np.random.default_rng(20261126)
    m = 60
    z = rng.standard_normal((3, m))
    a = rng.standard_normal((8, 3)) @ z + 0.5 * rng.standard_normal((8, m))
    b = rng.standard_normal((6, 3)) @ z + 0.8 * rng.standard_normal((6, m))
    b[0] = np.tanh(b[0])
    rho, ka, kb = svcca(a, b)
    pw, pw_rho = pwcca(a, b)
    lines = []
    for name, mat in (("A", a), ("B", b)):
        lines.append("%s %d %d" % (name, mat.shape[0], mat.shape[1]))
        for row in mat:
            lines.append(" ".join(repr(float(x)) for x in row))
    lines.append("svcca_keep %r" % KEEP)
    lines.append("svcca_directions %d %d" % (ka, kb))
    lines.append("svcca_correlations " + " ".join(repr(float(x)) for x in rho))
    lines.append("svcca_mean %r" % float(np.mean(rho)))
    lines.append("pwcca %r" % pw)
    lines.append("pwcca_correlations " + " ".join(repr(float(x)) for x in pw_rho))
    lines.append("cka %r" % float(cka(a, b, False)))
    lines.append("cka_debiased %r" % float(cka(a, b, True)))
    with open("reference.txt", "w") as f:
        f.write("\n".join(lines) + "\n")
    np.save("reference_A.npy", a)
    np.save("reference_B.npy", b)


if __name__ == "__main__":
    main()
