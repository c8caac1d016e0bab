"""The numpy peer of bench/step.ts: a long-lived, warm process that times the same f64 step.

It speaks one JSON object per line on stdin/stdout:
  {"cmd": "info"}                                  -> {"numpy": version, "blas": name}
  {"cmd": "setup", "n": .., "d": .., "m": .., "seed": ..} -> {"ok": true}
  {"cmd": "run", "seconds": 0.2}                   -> {"steps": k, "elapsed": seconds}
  {"cmd": "quit"}
Run it with OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 (bench/step.ts does), so both sides use one core.

The step is the one a user would write (METHOD.md section 1, tanh), with in-place updates so that
numpy is not charged for avoidable temporaries:
  Z = X W, A = tanh(Z), F = A v, r = F - y, gv = A^T r / n, G = (1 - A^2) .* (r v^T), gW = X^T G / n.
"""
import json
import sys
import time

import numpy as np

state = {}


def setup(n, d, m, seed):
    rng = np.random.default_rng(seed)
    state.clear()
    state.update(
        n=n,
        X=rng.standard_normal((n, d)),
        y=rng.standard_normal(n),
        W=rng.standard_normal((d, m)) / np.sqrt(d),
        v=rng.standard_normal(m) / np.sqrt(m),
    )


def step():
    X, y, W, v, n = state["X"], state["y"], state["W"], state["v"], state["n"]
    A = X @ W
    np.tanh(A, out=A)
    r = A @ v
    r -= y
    gv = A.T @ r
    gv /= n
    G = A * A
    np.subtract(1.0, G, out=G)
    G *= v
    G *= r[:, None]
    gW = X.T @ G
    gW /= n
    return float(r @ r)


def blas_name():
    try:
        info = np.show_config(mode="dicts")  # numpy >= 1.25
        return str(info["Build Dependencies"]["blas"]["name"])
    except Exception:
        pass
    try:
        import ctypes.util  # noqa: F401
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1].rsplit("/", 1)[-1] for line in f if ".so" in line}
        hits = sorted(lib for lib in libs if "blas" in lib or "lapack" in lib)
        return ",".join(hits) or "unknown"
    except Exception:
        return "unknown"


def openblas_core():
    """The kernel family OpenBLAS picked at run time (e.g. Zen, SkylakeX, Haswell), or ''."""
    try:
        import ctypes
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line and ".so" in line}
        for path in sorted(paths):
            lib = ctypes.CDLL(path)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return lib.openblas_get_corename().decode()
    except Exception:
        pass
    return ""


def main():
    for line in sys.stdin:
        msg = json.loads(line)
        cmd = msg["cmd"]
        if cmd == "info":
            step_ok = True
            out = {"numpy": np.__version__, "blas": blas_name(), "core": openblas_core(), "ok": step_ok}
        elif cmd == "setup":
            setup(int(msg["n"]), int(msg["d"]), int(msg["m"]), int(msg.get("seed", 1)))
            step()  # warm: first-call allocations and BLAS buffers
            out = {"ok": True}
        elif cmd == "run":
            seconds = float(msg["seconds"])
            steps = 0
            t0 = time.perf_counter()
            while True:
                step()
                steps += 1
                elapsed = time.perf_counter() - t0
                if elapsed >= seconds:
                    break
            out = {"steps": steps, "elapsed": elapsed}
        elif cmd == "quit":
            return
        else:
            out = {"error": "unknown command " + cmd}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
