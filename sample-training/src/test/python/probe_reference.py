#!/usr/bin/env python3
"""Independent reference for the linear probe (LinearProbe): plain multinomial softmax regression
in numpy on the same standardised features, full-batch Adam.

Input: the folder written by dev.stethoscope.sample.npy.ProbeActivationDump (LAYER-train.npy,
LAYER-test.npy, labels-train.npy, labels-test.npy; even/odd split of the probe set as the listener
makes it). Usage:

    python3 probe_reference.py DUMP_DIR LAYER [--steps 300] [--lr 0.01,0.05] [--l2 1e-4,1e-3,1e-2,1e-1]

Loss: mean cross-entropy + l2/2 ||W||^2 (bias not penalised). Features standardised with the
probe-train mean and (population) standard deviation; constant features become 0.
Prints, per (lr, l2): probe-train loss and accuracy, probe-test accuracy and the final gradient norm.
"""
import argparse
import os

import numpy as np


def load(d, layer):
    xtr = np.load(os.path.join(d, layer + "-train.npy"))
    xte = np.load(os.path.join(d, layer + "-test.npy"))
    ytr = np.load(os.path.join(d, "labels-train.npy")).ravel().astype(int)
    yte = np.load(os.path.join(d, "labels-test.npy")).ravel().astype(int)
    mu = xtr.mean(0)
    sd = xtr.std(0)
    inv = np.where(sd > 1e-12, 1.0 / np.where(sd > 1e-12, sd, 1.0), 0.0)
    return (xtr - mu) * inv, ytr, (xte - mu) * inv, yte


def softmax(z):
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def fit(x, y, k, l2, lr, steps, seed=0):
    n, d = x.shape
    rng = np.random.default_rng(seed)
    w = 0.01 * rng.standard_normal((d, k))
    b = np.zeros(k)
    y1 = np.eye(k)[y]
    m = [np.zeros_like(w), np.zeros_like(b)]
    v = [np.zeros_like(w), np.zeros_like(b)]
    b1, b2, eps = 0.9, 0.999, 1e-8
    for t in range(1, steps + 1):
        p = softmax(x @ w + b)
        g = (p - y1) / n
        gw = x.T @ g + l2 * w
        gb = g.sum(0)
        for i, (param, grad) in enumerate(((w, gw), (b, gb))):
            m[i] = b1 * m[i] + (1 - b1) * grad
            v[i] = b2 * v[i] + (1 - b2) * grad * grad
            mh = m[i] / (1 - b1 ** t)
            vh = v[i] / (1 - b2 ** t)
            param -= lr * mh / (np.sqrt(vh) + eps)
    p = softmax(x @ w + b)
    g = (p - y1) / n
    gnorm = np.sqrt(np.sum((x.T @ g + l2 * w) ** 2) + np.sum(g.sum(0) ** 2))
    return w, b, gnorm


def evaluate(x, y, w, b):
    p = softmax(x @ w + b)
    return float(np.mean(p.argmax(1) == y)), float(-np.mean(np.log(p[np.arange(len(y)), y] + 1e-300)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("layer")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--lr", default="0.001,0.01,0.05")
    ap.add_argument("--l2", default="1e-4,1e-3,1e-2,3e-2,1e-1")
    a = ap.parse_args()
    xtr, ytr, xte, yte = load(a.dir, a.layer)
    k = int(max(ytr.max(), yte.max())) + 1
    print(f"{a.layer}: {xtr.shape[0]} probe-train, {xte.shape[0]} probe-test, {xtr.shape[1]} features, {a.steps} Adam steps")
    for lr in [float(s) for s in a.lr.split(",")]:
        for l2 in [float(s) for s in a.l2.split(",")]:
            w, b, gn = fit(xtr, ytr, k, l2, lr, a.steps)
            tra, trl = evaluate(xtr, ytr, w, b)
            tea, tel = evaluate(xte, yte, w, b)
            print(f"lr {lr:g} l2 {l2:g}: train acc {tra:.4f} loss {trl:.5f}  test acc {tea:.4f} loss {tel:.4f}  grad norm {gn:.2e}")


if __name__ == "__main__":
    main()
