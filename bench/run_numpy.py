"""The numpy/scipy peer of bench/run.ts: whole training runs and a whole sweep, as a researcher would
write them in numpy and scipy (METHOD.md sections 1-5, tanh, float64). Not a test.

    /usr/bin/python3 bench/run_numpy.py info
    /usr/bin/python3 bench/run_numpy.py convert model.json data.csv result.json run.npz   (untimed, once)
    /usr/bin/python3 bench/run_numpy.py train run.npz                                    (one timed run)
    /usr/bin/python3 bench/run_numpy.py sweep runs.jsonl [--workers 2]                   (one timed sweep)

Run it with OPENBLAS_NUM_THREADS=1 (bench/run.ts does): one core per process, like narrowsweep.

`train` loads the exact data and initial point of a narrowsweep run (converted once from its
--save-data CSV and --save-model JSON) and does the same work: the same method, settings and
number of iterations. `sweep` re-runs every configuration of a narrowsweep journal (the resolved
config and the iterations narrowsweep ran) with its own Gaussian data from numpy's RNG, on a
multiprocessing.Pool. Each prints one JSON object on stdout.

The computations (n samples, d inputs, m hidden units; W is d x m, v has m entries):
  A = tanh(X W), F = A v, D = (1 - A^2) * v          (D[i, j] = v_j s'(x_i . w_j))
  gradients          gW = X^T ((F - y)[:, None] * D) / n,   gv = A^T (F - y) / n
  Gram of the W block G = (X X^T) * (D D^T)   (X X^T once per run); with the v block G + A A^T
  lr auto            lrScale / L, L = lambda_max / n, lambda_max = eigvalsh(Gram)[-1]
  sigma_min(J)       sqrt(eigvalsh(G)[0]) at the start and at the end, when n <= certificateMaxN
  radius auto        kappa * ||J^T (G + lam I)^-1 (y - F)||, lam = 1e-6 trace(G) / n
  J^T alpha          X^T (alpha[:, None] * D)
  lm                 dW = J^T (G + mu I)^-1 (y - F) by cho_factor / cho_solve; mu0 = lmDamping * trace(G) / n;
                     a step that lowers the loss is taken and mu /= lmFactor, else mu *= lmFactor and retry
"""
import json
import sys
import time
from multiprocessing import Pool

import numpy as np
import scipy
import scipy.linalg

ADAM_AUTO_LR = 1e-2  # narrowsweep's lr: auto for adam is this times lrScale


# ---- the network and its Jacobian ----------------------------------------------------------------

def forward(X, W, v):
    A = np.tanh(X @ W)
    return A, A @ v


def d_matrix(A, v):
    """D[i, j] = v_j tanh'(x_i . w_j): the Jacobian's W block is row i = kron(x_i, D[i])."""
    return (1.0 - A * A) * v


def gram_w(XXt, D):
    return XXt * (D @ D.T)


def sigma_min(G):
    return float(np.sqrt(max(np.linalg.eigvalsh(G)[0], 0.0)))


def project(W, W0, radius, mode):
    """Projection onto the ball around W0 (METHOD.md section 3); returns (W, whether it clipped)."""
    delta = W - W0
    if mode == "global":
        dist = np.linalg.norm(delta)
        if dist <= radius:
            return W, False
        return W0 + delta * (radius / dist), True
    rj = radius / np.sqrt(W.shape[1])
    dist = np.linalg.norm(delta, axis=0)
    if np.all(dist <= rj):
        return W, False
    scale = np.where(dist > rj, rj / np.maximum(dist, 1e-300), 1.0)
    return W0 + delta * scale, True


def kkt_residual(gW, gv, W, W0, radius, mode):
    """min over lambda >= 0 of ||g + lambda (W - W0)|| where the ball is active (METHOD.md section 3)."""
    delta = W - W0
    if mode == "global":
        on = np.linalg.norm(delta) >= radius * (1 - 1e-9)
        lam = max(0.0, -np.sum(gW * delta) / np.sum(delta * delta)) if on and np.any(delta) else 0.0
        g = gW + lam * delta
    else:
        dd = np.sum(delta * delta, axis=0)
        on = (np.sqrt(dd) >= radius / np.sqrt(W.shape[1]) * (1 - 1e-9)) & (dd > 0)
        lam = np.where(on, np.maximum(0.0, -np.sum(gW * delta, axis=0) / np.where(dd > 0, dd, 1.0)), 0.0)
        g = gW + lam * delta
    return float(np.sqrt(np.sum(g * g) + gv @ gv))


# ---- one run ---------------------------------------------------------------------------------------

def train(cfg, X, y, W, v, iterations):
    """Trains W (and v when cfg['trainOutput']) for exactly `iterations` iterations (fewer only if the
    loss becomes non-finite or lm finds no damping that lowers it). Returns the run's report."""
    n, d = X.shape
    m = W.shape[1]
    opt = cfg["optimizer"]
    W0 = W.copy()
    W = W.copy()
    v = v.copy()
    y_sq = y @ y
    certificates = n <= cfg["certificateMaxN"]
    ball = cfg["constraint"] == "ball"
    lr_eig = opt in ("gd", "sgd") and cfg["lr"] == "auto"
    need_gram = certificates or (ball and cfg["radius"] == "auto") or opt == "lm"
    out = {"lrUsed": None, "lambdaMax": None, "radiusUsed": None, "sigmaMinJStart": None, "sigmaMinJEnd": None,
           "choleskys": 0, "status": "ok"}

    # ---- start of the run: certificate, learning rate, radius ----
    A, F = forward(X, W, v)
    D = d_matrix(A, v)
    XXt = X @ X.T if need_gram or lr_eig else None
    G = gram_w(XXt, D) if need_gram else None
    if certificates:
        out["sigmaMinJStart"] = sigma_min(G)
    lr = None
    if opt == "adam":
        lr = (ADAM_AUTO_LR if cfg["lr"] == "auto" else cfg["lr"]) * cfg["lrScale"]
    elif opt != "lm":
        if cfg["lr"] == "auto":
            K = G if G is not None else gram_w(XXt, D)
            if cfg["trainOutput"]:
                K = K + A @ A.T
            lam_max = float(np.linalg.eigvalsh(K)[-1])
            L = lam_max / n
            lr = cfg["lrScale"] / L if L > 0 else cfg["lrScale"]
            out["lambdaMax"] = lam_max
        else:
            lr = cfg["lr"] * cfg["lrScale"]
    out["lrUsed"] = lr
    radius = None
    if ball:
        r = cfg["radius"]
        if r == "auto":
            lam = 1e-6 * np.trace(G) / n
            c = scipy.linalg.cho_factor(G + lam * np.eye(n), lower=True)
            alpha = scipy.linalg.cho_solve(c, y - F)
            radius = cfg["kappa"] * float(np.linalg.norm(X.T @ (alpha[:, None] * D)))
        elif isinstance(r, dict):
            radius = r["relative"] * float(np.linalg.norm(W0))
        else:
            radius = float(r)
        out["radiusUsed"] = radius

    if opt == "lm":
        W, it = train_lm(cfg, X, y, W, v, W0, XXt, G, D, radius, iterations, out)
    else:
        W, v, it = train_first_order(cfg, X, y, W, v, W0, lr, radius, iterations, out)

    # ---- end of the run: final loss, gradient, certificate ----
    A, F = forward(X, W, v)
    r = F - y
    rel = float(r @ r / y_sq)
    D = d_matrix(A, v)
    gW = X.T @ (r[:, None] * D) / n
    gv = A.T @ r / n if cfg["trainOutput"] else np.zeros(0)
    out["iterations"] = it
    out["relLoss"] = rel if np.isfinite(rel) else None
    out["gradNorm"] = float(np.sqrt(np.sum(gW * gW) + gv @ gv))
    out["distW0"] = float(np.linalg.norm(W - W0))
    if ball and np.isfinite(rel):
        out["kktResidual"] = kkt_residual(gW, gv, W, W0, radius, cfg["projection"])
    if certificates and np.isfinite(rel) and out["status"] == "ok":
        out["sigmaMinJEnd"] = sigma_min(gram_w(XXt, D))
    return out


def train_first_order(cfg, X, y, W, v, W0, lr, radius, iterations, out):
    """gd / sgd (with heavy-ball momentum) / adam, projected onto the ball when radius is set."""
    n = X.shape[0]
    y_sq = y @ y
    train_v = cfg["trainOutput"]
    batch = cfg["batch"] if cfg["batch"] is not None and cfg["batch"] < n else None
    eval_every = 1 if batch is None else max(1, n // batch)  # sgd: the full-batch loss once per epoch
    rng = np.random.default_rng(cfg["seed"])
    order, cursor = None, n
    adam = cfg["optimizer"] == "adam"
    mom = cfg["momentum"]
    b1, b2, eps = cfg["beta1"], cfg["beta2"], cfg["adamEps"]
    mW, mv = np.zeros_like(W), np.zeros_like(v)  # adam's first moments, or the momentum buffers
    sW, sv = np.zeros_like(W), np.zeros_like(v)  # adam's second moments
    for it in range(iterations):
        if batch is None:
            A, F = forward(X, W, v)
            r = F - y
            Xb, b = X, n
        else:
            if it % eval_every == 0:
                _, F = forward(X, W, v)
                r_full = F - y
                rel = r_full @ r_full / y_sq
                if not np.isfinite(rel):
                    out["status"] = "diverged"
                    return W, v, it
            if cursor >= n:
                order, cursor = rng.permutation(n), 0
            rows = order[cursor:cursor + batch]
            cursor += len(rows)
            Xb, b = X[rows], len(rows)
            A, F = forward(Xb, W, v)
            r = F - y[rows]
        sse = r @ r
        if not np.isfinite(sse):
            out["status"] = "diverged"
            return W, v, it
        gW = Xb.T @ (r[:, None] * d_matrix(A, v)) / b
        gv = A.T @ r / b
        if adam:
            t = it + 1
            mW = b1 * mW + (1 - b1) * gW
            sW = b2 * sW + (1 - b2) * gW * gW
            W = W - lr * (mW / (1 - b1 ** t)) / (np.sqrt(sW / (1 - b2 ** t)) + eps)
            if train_v:
                mv = b1 * mv + (1 - b1) * gv
                sv = b2 * sv + (1 - b2) * gv * gv
                v = v - lr * (mv / (1 - b1 ** t)) / (np.sqrt(sv / (1 - b2 ** t)) + eps)
        elif mom > 0:
            mW = mom * mW + gW
            W = W - lr * mW
            if train_v:
                mv = mom * mv + gv
                v = v - lr * mv
        else:
            W = W - lr * gW
            if train_v:
                v = v - lr * gv
        if radius is not None:
            W, _ = project(W, W0, radius, cfg["projection"])
    return W, v, iterations


def train_lm(cfg, X, y, W, v, W0, XXt, G, D, radius, iterations, out):
    """Levenberg-Marquardt on W with the damping rule of METHOD.md section 4 (v fixed)."""
    n = X.shape[0]
    mu = cfg["lmDamping"] * (np.trace(G) / n if np.trace(G) > 0 else 1.0)
    f = cfg["lmFactor"]
    _, F = forward(X, W, v)
    sse = np.sum((F - y) ** 2)
    out["accepted"] = 0
    for it in range(iterations):
        if it > 0:
            A, _ = forward(X, W, v)
            D = d_matrix(A, v)
            G = gram_w(XXt, D)
        r = y - F
        accepted = False
        while not accepted:
            out["choleskys"] += 1
            try:
                c = scipy.linalg.cho_factor(G + mu * np.eye(n), lower=True)
            except np.linalg.LinAlgError:
                c = None  # not positive definite: more damping
            if c is not None:
                alpha = scipy.linalg.cho_solve(c, r)
                W_trial = W + X.T @ (alpha[:, None] * D)
                if radius is not None:
                    W_trial, _ = project(W_trial, W0, radius, cfg["projection"])
                _, F_trial = forward(X, W_trial, v)
                sse_trial = np.sum((F_trial - y) ** 2)
                if sse_trial < sse:
                    W, F, sse = W_trial, F_trial, sse_trial
                    mu = max(mu / f, 1e-300)
                    accepted = True
                    break
            mu *= f
            if not mu < 1e300:
                break
        if not accepted:
            out["status"] = "stalled"  # no damping lowers the loss: a numerically stationary point
            return W, it
        out["accepted"] += 1
    return W, iterations


# ---- commands --------------------------------------------------------------------------------------

def openblas():
    """(OpenBLAS version string, core it picked) from the library numpy loaded, or ('', '')."""
    try:
        import ctypes
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "openblas" in line and ".so" in line})
        lib = ctypes.CDLL(paths[0])
        lib.openblas_get_config.restype = ctypes.c_char_p
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_config().decode(), lib.openblas_get_corename().decode()
    except Exception:
        return "", ""


def cmd_info():
    config, core = openblas()
    return {"python": sys.version.split()[0], "numpy": np.__version__, "scipy": scipy.__version__,
            "openblas": config, "core": core}


def cmd_convert(model_path, data_path, result_path, npz_path):
    """Untimed: a narrowsweep run's data (--save-data), initial point (--save-model), resolved config and
    iterations (its result JSON) into one .npz that `train` loads fast."""
    model = json.load(open(model_path))
    result = json.load(open(result_path))
    data = np.loadtxt(data_path, delimiter=",", skiprows=1, ndmin=2)
    np.savez(npz_path, X=data[:, :-1], y=data[:, -1], W0=np.array(model["W0"]), v0=np.array(model["v0"]),
             config=np.array(json.dumps(result["resolved"])), iterations=np.array(result["iterations"]))
    return {"ok": True, "n": data.shape[0], "d": data.shape[1] - 1}


def check_supported(cfg):
    if cfg["activation"] != "tanh" or cfg["dtype"] != "float64":
        raise SystemExit("run_numpy.py: tanh and float64 only")


def cmd_train(npz_path):
    t0 = time.perf_counter()
    f = np.load(npz_path)
    cfg = json.loads(str(f["config"]))
    check_supported(cfg)
    out = train(cfg, f["X"], f["y"], f["W0"], f["v0"], int(f["iterations"]))
    out["seconds"] = time.perf_counter() - t0
    return out


def gaussian_data(seed, n, d):
    rng = np.random.default_rng([seed, n, d])
    return rng.standard_normal((n, d)), rng.standard_normal(n)


def init_params(cfg):
    """LeCun (W ~ N(0, 1/d), v ~ alpha N(0, 1/m)), or mirrored: W0 = [W', W'], v0 = [v', -v'] (pairs side by side)."""
    d, m, alpha = cfg["d"], cfg["m"], cfg["outputScale"]
    rng = np.random.default_rng([cfg["seed"], d, m, 0 if cfg["init"] == "lecun" else 1])
    if cfg["init"] == "lecun":
        return rng.standard_normal((d, m)) / np.sqrt(d), alpha * rng.standard_normal(m) / np.sqrt(m)
    Wh = rng.standard_normal((d, m // 2)) / np.sqrt(d)
    vh = alpha * rng.standard_normal(m // 2) / np.sqrt(m)
    return np.repeat(Wh, 2, axis=1), np.stack([vh, -vh], axis=1).ravel()


def sweep_job(job):
    cfg, iterations = job
    t0 = time.perf_counter()
    X, y = gaussian_data(cfg["seed"], cfg["n"], cfg["d"])
    W0, v0 = init_params(cfg)
    with np.errstate(all="ignore"):
        out = train(cfg, X, y, W0, v0, iterations)
    out["method"] = cfg["method"]
    out["seconds"] = time.perf_counter() - t0
    return out


def cmd_sweep(journal_path, workers):
    t0 = time.perf_counter()
    jobs = []
    for line in open(journal_path):
        result = json.loads(line)["result"]
        cfg = result.get("resolved")
        if cfg is None or result["status"] == "error":
            continue
        check_supported(cfg)
        if cfg["data"] != {"source": "gaussian", "labels": "gaussian"}:
            raise SystemExit("run_numpy.py sweep: Gaussian data and labels only")
        jobs.append((cfg, result["iterations"]))
    with Pool(workers) as pool:
        results = list(pool.imap_unordered(sweep_job, jobs, chunksize=1))
    per_method = {}
    for r in results:
        s = per_method.setdefault(r["method"], {"runs": 0, "iterations": 0, "choleskys": 0, "seconds": 0.0})
        s["runs"] += 1
        s["seconds"] += r["seconds"]
        s["iterations"] += r["iterations"]
        s["choleskys"] += r["choleskys"]
    statuses = {}
    for r in results:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    return {"runs": len(results), "iterations": sum(r["iterations"] for r in results),
            "iterationsAsked": sum(it for _, it in jobs), "statuses": statuses, "perMethod": per_method,
            "workers": workers, "seconds": time.perf_counter() - t0}


def main():
    args = sys.argv[1:]
    if not args:
        raise SystemExit(__doc__)
    if args[0] == "info":
        out = cmd_info()
    elif args[0] == "convert" and len(args) == 5:
        out = cmd_convert(*args[1:])
    elif args[0] == "train" and len(args) == 2:
        out = cmd_train(args[1])
    elif args[0] == "sweep" and len(args) in (2, 4):
        out = cmd_sweep(args[1], int(args[3]) if len(args) == 4 and args[2] == "--workers" else 2)
    else:
        raise SystemExit(__doc__)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
