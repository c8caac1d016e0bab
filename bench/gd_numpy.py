"""An independent numpy re-run of a narrowsweep `gd` run (not a test: numpy is not a dependency).

    node dist/src/cli.js train --method gd --n 200 --d 10 --m 30 --seed 1 --iterations 3000 \
        --epsilon 0 --lr-scale 0.5 --save-model /tmp/g.json --save-data /tmp/g.csv > /tmp/g.out
    /usr/bin/python3 bench/gd_numpy.py /tmp/g.json /tmp/g.csv /tmp/g.out

It reads the training data (--save-data), the initial point W0, v0 (--save-model) and the learning
rate and iteration count the run used (its result JSON), runs plain full-batch gradient descent on
both layers in numpy (METHOD.md section 1: F = tanh(X W) v, L = ||F - y||^2 / 2n), and prints its
final relLoss next to narrowsweep's and the largest difference of the final W and v.
"""
import json
import sys

import numpy as np


def main():
    model_path, data_path, result_path = sys.argv[1:4]
    model = json.load(open(model_path))
    result = json.load(open(result_path))
    if model["activation"] != "tanh" or model["config"]["optimizer"] != "gd" or not model["config"]["trainOutput"]:
        sys.exit("gd_numpy.py: expects a tanh gd run that trains both layers (narrowsweep --method gd)")
    data = np.loadtxt(data_path, delimiter=",", skiprows=1, ndmin=2)
    X, y = data[:, :-1], data[:, -1]
    n = X.shape[0]
    W, v = np.array(model["W0"]), np.array(model["v0"])
    lr, iterations = result["lrUsed"], result["iterations"]
    for _ in range(iterations):
        A = np.tanh(X @ W)
        r = A @ v - y
        gv = A.T @ r / n
        gW = X.T @ ((1 - A * A) * np.outer(r, v)) / n
        W -= lr * gW
        v -= lr * gv
    F = np.tanh(X @ W) @ v
    rel = float(((F - y) ** 2).sum() / (y ** 2).sum())
    print(f"iterations {iterations}, lr {lr!r}")
    print(f"relLoss numpy {rel!r}  narrowsweep {result['relLoss']!r}  relative difference {abs(rel - result['relLoss']) / rel:.2e}")
    print(f"max |W - W_narrowsweep| {np.abs(W - np.array(model['W'])).max():.2e}, max |v - v_narrowsweep| {np.abs(v - np.array(model['v'])).max():.2e}")


if __name__ == "__main__":
    main()
