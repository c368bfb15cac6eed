"""srcdiff.dask: gradients of sums over rows of Dask arrays; vi.fit over Dask data; hmm.fit_em on a cluster.

Most tests run on Dask's threads / synchronous schedulers; one module-scoped distributed.LocalCluster (two
worker processes) checks the real thing: results, no code generation on the workers, one module load per
worker across calls, and the HMM E-step mapped over the workers.
"""
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
cloudpickle = pytest.importorskip("cloudpickle")

import srcdiff  # noqa: E402
from srcdiff import SrcdiffError, module_builder  # noqa: E402
from srcdiff import vi  # noqa: E402
from srcdiff.vi import hmm  # noqa: E402

sdask = srcdiff.dask


def logistic_loss(w, X, y):
    z = X @ w
    return np.sum(np.logaddexp(0.0, z) - y * z)


def poisson_loss(w, b, X, y):
    eta = X @ w + b
    return np.sum(np.exp(eta) - y * eta)


def logistic_reference(w, X, y):
    z = X @ w
    return np.sum(np.logaddexp(0.0, z) - y * z), X.T @ (1.0 / (1.0 + np.exp(-z)) - y)


def poisson_reference(w, b, X, y):
    eta = X @ w + b
    r = np.exp(eta) - y
    return np.sum(np.exp(eta) - y * eta), (X.T @ r, np.sum(r))


def logistic_data(n=1003, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = (rng.random(n) < 0.4).astype(np.float64)
    return rng.standard_normal(d), X, y


def close(a, b, rtol=1e-9):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-9 * max(1.0, float(np.max(np.abs(b)))))


@pytest.fixture(autouse=True)
def threads_scheduler():
    with dask.config.set(scheduler="threads"):
        yield


def test_importing_srcdiff_does_not_import_dask():
    """Nor does srcdiff.vi, whose full-data ELBO over Dask arrays and hmm.fit_em(client=...) share the chunk
    kernel protocol (srcdiff/chunk_kernel.py) with srcdiff.dask."""
    code = ("import sys, srcdiff, srcdiff.vi.fit, srcdiff.vi.hmm, srcdiff.chunk_kernel; "
            "assert 'dask' not in sys.modules and 'cloudpickle' not in sys.modules; "
            "srcdiff.dask; assert 'dask' in sys.modules")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)


@pytest.mark.parametrize("chunks", [97, 250, 1003, (500, 3, 500), (1, 1001, 1)])
def test_logistic_matches_numpy(chunks):
    w, X, y = logistic_data()
    vg = sdask.value_and_grad(logistic_loss, jit=False)
    rows = chunks if isinstance(chunks, tuple) else chunks
    value, g = vg(w, da.from_array(X, chunks=(rows, -1)), da.from_array(y, chunks=(rows,)))
    ref_value, ref_g = logistic_reference(w, X, y)
    assert isinstance(g, np.ndarray) and g.shape == w.shape
    close(value, ref_value)
    close(g, ref_g)


def test_logistic_jit_synchronous_scheduler():
    w, X, y = logistic_data(n=2000)
    vg = sdask.value_and_grad(logistic_loss)           # jit=True by default
    with dask.config.set(scheduler="synchronous"):
        value, g = vg(w, da.from_array(X, chunks=(300, 4)), da.from_array(y, chunks=300))
    ref_value, ref_g = logistic_reference(w, X, y)
    close(value, ref_value)
    close(g, ref_g)
    assert "def logistic_loss_value_and_grad" in srcdiff.source(vg)


def test_poisson_two_parameters_value_and_grad_and_grad():
    rng = np.random.default_rng(3)
    X = 0.3 * rng.standard_normal((777, 3))
    w, b = 0.2 * rng.standard_normal(3), 0.1
    y = rng.poisson(np.exp(X @ w + b)).astype(np.float64)
    Xd, yd = da.from_array(X, chunks=(100, 3)), da.from_array(y, chunks=100)
    ref_value, (ref_w, ref_b) = poisson_reference(w, b, X, y)
    value, (gw, gb) = sdask.value_and_grad(poisson_loss, wrt=(0, 1), jit=False)(w, b, Xd, yd)
    close(value, ref_value)
    close(gw, ref_w)
    close(gb, ref_b)
    gw2, gb2 = sdask.grad(poisson_loss, wrt=("w", "b"), jit=False)(w, b, Xd, yd)
    close(gw2, ref_w)
    close(gb2, ref_b)
    # NumPy data only: the plain single-process gradient
    close(sdask.grad(poisson_loss, jit=False)(w, b, X, y), ref_w)


def _error(fn, *args):
    with pytest.raises(SrcdiffError) as info:
        fn(*args)
    err = info.value
    assert err.filename == logistic_loss.__code__.co_filename    # the user's file, not srcdiff's
    return str(err)


def test_misaligned_chunks_raise():
    w, X, y = logistic_data()
    vg = sdask.value_and_grad(logistic_loss, jit=False)
    msg = _error(vg, w, da.from_array(X, chunks=(100, 4)), da.from_array(y, chunks=200))
    assert "not aligned" in msg and "'X'" in msg and "'y'" in msg and "rechunk" in msg
    msg = _error(vg, w, da.from_array(X, chunks=(100, 4)), da.from_array(y[:-3], chunks=100))
    assert "1003 and 1000 rows" in msg


def test_chunked_column_axis_raises():
    w, X, y = logistic_data()
    vg = sdask.value_and_grad(logistic_loss, jit=False)
    msg = _error(vg, w, da.from_array(X, chunks=(100, 2)), da.from_array(y, chunks=100))
    assert "chunked along axis 1" in msg and "rechunk({1: -1})" in msg


def test_dask_array_as_parameter_raises():
    w, X, y = logistic_data()
    vg = sdask.value_and_grad(logistic_loss, jit=False)
    msg = _error(vg, da.from_array(w, chunks=2), X, y)
    assert "'w' is differentiated" in msg


def test_unknown_chunk_sizes_raise():
    w, X, y = logistic_data()
    Xd = da.from_array(X, chunks=(100, 4))
    Xd = Xd[Xd[:, 0] > -10.0]            # boolean mask: row counts unknown until computed
    vg = sdask.value_and_grad(logistic_loss, jit=False)
    msg = _error(vg, w, Xd, da.from_array(y, chunks=100))
    assert "unknown chunk sizes" in msg and "compute_chunk_sizes" in msg


def test_generated_once_not_per_task(monkeypatch, tmp_path):
    """Code is generated on the client once per distinct chunk shape, never per task or per call."""
    monkeypatch.setenv("SRCDIFF_CACHE_DIR", str(tmp_path))   # an empty disk cache: code found there is not built
    built = []
    real = module_builder.build_module

    def counting(*args, **kwargs):
        built.append(args[2])
        return real(*args, **kwargs)
    monkeypatch.setattr(module_builder, "build_module", counting)
    w, X, y = logistic_data(n=1201)
    vg = sdask.value_and_grad(logistic_loss, jit=False)
    Xd, yd = da.from_array(X, chunks=(100, 4)), da.from_array(y, chunks=100)   # 13 chunks, last has 1 row
    for _ in range(3):
        value, g = vg(w, Xd, yd)
    close(g, logistic_reference(w, X, y)[1])
    # two specialisations: 100-row chunks and the 1-row chunk (a length-1 axis broadcasts)
    assert built == ["value_and_grad", "value_and_grad"]
    vg(w + 1.0, Xd, yd)
    assert len(built) == 2


def test_pickle_round_trip_loads_without_generating(tmp_path):
    w, X, y = logistic_data(n=50)
    g = srcdiff.value_and_grad(logistic_loss, jit=False)
    expect = g(w, X, y)
    vg = sdask.value_and_grad(logistic_loss, jit=False)
    vg(w, da.from_array(X, chunks=(20, 4)), da.from_array(y, chunks=20))
    (tmp_path / "g.pkl").write_bytes(cloudpickle.dumps(g))
    (tmp_path / "vg.pkl").write_bytes(cloudpickle.dumps(vg))
    np.savez(tmp_path / "d.npz", w=w, X=X, y=y)
    code = f"""
import pickle, numpy as np, dask, dask.array as da
import srcdiff.module_builder
def refuse(*a, **k):
    raise AssertionError("regenerated")
srcdiff.module_builder.build_module = refuse
g = pickle.loads(open({str(tmp_path / 'g.pkl')!r}, 'rb').read())
vg = pickle.loads(open({str(tmp_path / 'vg.pkl')!r}, 'rb').read())
d = np.load({str(tmp_path / 'd.npz')!r})
v, dw = g(d['w'], d['X'], d['y'])
with dask.config.set(scheduler='synchronous'):
    v2, dw2 = vg(d['w'], da.from_array(d['X'], chunks=(20, 4)), da.from_array(d['y'], chunks=20))
print(repr(float(v)), repr(float(v2)), *dw.tolist(), *dw2.tolist())
"""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    nums = np.array(out.stdout.split(), dtype=float)
    d = w.shape[0]
    close(nums[0], expect[0])
    close(nums[1], expect[0])
    close(nums[2:2 + d], expect[1])
    close(nums[2 + d:], expect[1])


def _refuse_to_generate(*args, **kwargs):
    raise AssertionError("code generated after unpickling")


@pytest.mark.parametrize("jit", [False, True])
def test_unpickling_twice_reuses_the_loaded_transform(monkeypatch, jit):
    """A process that receives the same gradient object twice (a Dask worker fetching again a replica the
    scheduler dropped, a retried task) gets the copy it already has: its modules are not loaded again.
    A later pickle with more specialisations adds them to that copy."""
    from srcdiff import backends
    w, X, y = logistic_data(n=60)
    g = srcdiff.value_and_grad(logistic_loss, jit=jit)
    g.prepare(w, X, y)
    first = cloudpickle.dumps(g)
    g.prepare(w, X[:1], y[:1])                 # a second specialisation (one row: a length-1 axis)
    second = cloudpickle.dumps(g)
    loads = []
    real = backends.load_module
    monkeypatch.setattr(backends, "load_module", lambda *a, **k: loads.append(a[2]) or real(*a, **k))
    monkeypatch.setattr(module_builder, "build_module", _refuse_to_generate)
    a = cloudpickle.loads(first)
    assert a is not g
    close(a(w, X, y)[1], logistic_reference(w, X, y)[1])
    assert len(loads) == 1
    assert cloudpickle.loads(first) is a
    assert cloudpickle.loads(second) is a      # brings the one-row specialisation to the same object
    for _ in range(2):
        for part in (slice(None), slice(0, 1)):
            value, dw = a(w, X[part], y[part])
            ref_value, ref_dw = logistic_reference(w, X[part], y[part])
            close(value, ref_value)
            close(dw, ref_dw)
    assert len(loads) == 2, loads              # each specialisation loaded once
    assert cloudpickle.loads(cloudpickle.dumps(a)) is a     # pickled again from the copy: same transform


@pytest.mark.parametrize("jit", [False, True])
def test_threads_of_a_worker_load_a_shipped_transform_once(monkeypatch, jit):
    """A worker with several threads starts several chunk tasks at once on a gradient it just received:
    one of them loads its module, the others wait for it (not one load per thread)."""
    from srcdiff import backends
    w, X, y = logistic_data(n=60)
    g = srcdiff.value_and_grad(logistic_loss, jit=jit)
    g.prepare(w, X, y)
    a = cloudpickle.loads(cloudpickle.dumps(g))
    loads = []
    real = backends.load_module

    def slow_load(*args, **kwargs):
        loads.append(args[2])
        time.sleep(0.3)                        # a Numba compile: long enough for the others to arrive
        return real(*args, **kwargs)
    monkeypatch.setattr(backends, "load_module", slow_load)
    barrier = threading.Barrier(4)
    results = []

    def task():
        barrier.wait()
        results.append(a(w, X, y))
    threads = [threading.Thread(target=task, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 4
    ref_value, ref_g = logistic_reference(w, X, y)
    for value, dw in results:
        close(value, ref_value)
        close(dw, ref_g)
    assert len(loads) == 1, loads


# ---------------------------------------------------------------------------------------------------
# vi.fit over Dask arrays
# ---------------------------------------------------------------------------------------------------

NOISE, PRIOR_STD = 0.5, 2.0


def lin_log_lik(w, X, y):
    return np.sum(vi.normal_logpdf(y, X @ w, NOISE))


def lin_log_prior(w):
    return np.sum(vi.normal_logpdf(w, 0.0, PRIOR_STD))


def lin_data(n, seed=1):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)])
    X[:, 2] += 0.8 * X[:, 1]
    return X, X @ np.array([1.0, -2.0, 0.5]) + NOISE * rng.normal(size=n)


def exact_posterior(X, y):
    S = np.linalg.inv(np.eye(X.shape[1]) / PRIOR_STD ** 2 + X.T @ X / NOISE ** 2)
    return S @ X.T @ y / NOISE ** 2, S


def test_vi_fit_full_data_over_dask_equals_numpy():
    X, y = lin_data(300)
    q = vi.MeanFieldNormal(3)
    kw = dict(steps=40, log_prior=lin_log_prior, seed=2, progress=False, jit=False, lr=0.05)
    ref = vi.fit(lin_log_lik, q, data=(X, y), **kw)
    res = vi.fit(lin_log_lik, q, data=(da.from_array(X, chunks=(70, 3)), da.from_array(y, chunks=70)), **kw)
    np.testing.assert_allclose(res.elbo_trace, ref.elbo_trace, rtol=1e-9)
    np.testing.assert_allclose(res.params, ref.params, rtol=1e-8, atol=1e-10)


def test_vi_fit_dask_full_data_needs_separate_prior():
    X, y = lin_data(50)
    with pytest.raises(SrcdiffError, match="log_prior"):
        vi.fit(lin_log_lik, vi.MeanFieldNormal(3), data=(da.from_array(X, chunks=(10, 3)), y), steps=2,
               progress=False, jit=False)


def test_vi_fit_dask_full_data_with_a_ready_grad_fn_needs_its_data_size():
    """The full-data ELBO over chunks weighs each chunk's (N/n-scaled) bound by n/N: a ready grad_fn built
    without data_size=N gave sum_c (n_c/N) loglik_c, the likelihood divided by the chunks' sizes, silently."""
    X, y = lin_data(60)
    data = (da.from_array(X, chunks=(20, 3)), da.from_array(y, chunks=20))
    q = vi.MeanFieldNormal(3)
    unscaled = vi.elbo_grad(lin_log_lik, q, log_prior=lin_log_prior, jit=False)
    with pytest.raises(SrcdiffError, match="data_size=60"):
        vi.fit(None, q, data=data, steps=2, progress=False, grad_fn=unscaled)
    kw = dict(steps=5, seed=3, progress=False, lr=0.05)
    scaled = vi.elbo_grad(lin_log_lik, q, log_prior=lin_log_prior, data_size=60, jit=False)
    ref = vi.fit(lin_log_lik, q, data=(X, y), log_prior=lin_log_prior, jit=False, **kw)
    res = vi.fit(None, q, data=data, grad_fn=scaled, **kw)
    np.testing.assert_allclose(res.elbo_trace, ref.elbo_trace, rtol=1e-9)


@pytest.mark.parametrize("chunks", [(50,) * 8, (0, 150, 0, 250, 0)])
def test_vi_fit_dask_minibatches_recover_posterior(chunks):
    """Minibatches drawn from random chunks; empty chunks are never drawn (they once made NumPy's
    choice without replacement raise 'Fewer non-zero entries in p than size')."""
    X, y = lin_data(400)
    Xd, yd = da.from_array(X, chunks=(chunks, 3)), da.from_array(y, chunks=(chunks,))
    res = vi.fit(lin_log_lik, vi.MeanFieldNormal(3), data=(Xd, yd), batch_size=25, log_prior=lin_log_prior,
                 steps=1500, lr=0.02, seed=0, progress=False, average=0.5, jit=False)
    m, S = exact_posterior(X, y)
    sd = np.sqrt(np.diag(S))
    # the mean to a fraction of a posterior sd; the (mean-field) sd to within the minibatch-noise bias
    assert np.all(np.abs(res.mean - m) < 0.5 * sd), ((res.mean - m) / sd)
    assert np.all((res.std > 0.3 * sd) & (res.std < 3.0 * sd)), (res.std / sd)


# ---------------------------------------------------------------------------------------------------
# A real cluster: two worker processes
# ---------------------------------------------------------------------------------------------------

CLUSTER_TIMEOUT = 240     # seconds: a cluster call that takes longer fails the test instead of hanging it


def within(seconds, fn, *args):
    """fn(*args) in a daemon thread: its result, or a failed test after `seconds` (never a hung run)."""
    box = {}

    def run():
        try:
            box["value"] = fn(*args)
        except BaseException as exc:      # noqa: BLE001 (re-raised below, in the test's thread)
            box["error"] = exc
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"cluster computation did not finish within {seconds} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def on_cluster(vg, *args):
    """vg(*args) on the distributed client (the autouse fixture chose threads), with a time limit."""
    def call():
        with dask.config.set(scheduler="dask.distributed"):
            return vg(*args)
    return within(CLUSTER_TIMEOUT, call)


def _count_generation():
    """Runs on each worker: count code generation and module loads from now on."""
    import srcdiff.backends
    import srcdiff.module_builder
    counts = {"build": 0, "load": 0}

    def count(name, real):
        def wrapper(*args, **kwargs):
            counts[name] += 1
            return real(*args, **kwargs)
        wrapper.counts = counts
        return wrapper
    srcdiff.module_builder.build_module = count("build", srcdiff.module_builder.build_module)
    srcdiff.backends.load_module = count("load", srcdiff.backends.load_module)


def _counts():
    import srcdiff.module_builder
    return dict(getattr(srcdiff.module_builder.build_module, "counts", {}))


def _reset_peak_rss():
    """Runs on each worker: restart the kernel's record of this process's peak resident memory (VmHWM) from
    its present size (Linux >= 4.0; returns that size). Not getrusage's ru_maxrss: Linux keeps it across
    fork and exec, so a worker spawned by the test process starts with that process's peak (over 400 MB
    after earlier tests in the same run: the bound below failed on it in a sequential full run)."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    return _rss("VmRSS")


def _rss(field="VmHWM"):
    """This process's resident memory (VmRSS) or its peak since _reset_peak_rss (VmHWM), in bytes."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024          # kB
    raise AssertionError(f"no {field} in /proc/self/status")


def _run_amm(dask_scheduler):
    """Runs on the scheduler: one pass of the active memory manager (drops replicas nothing waits for)."""
    dask_scheduler.extensions["amm"].run_once()


def _allowed_failures(dask_scheduler):
    return dask_scheduler.allowed_failures


def single_replica(client):
    """Let the active memory manager drop the extra replicas of what the client holds between calls (the
    shipped gradient: it does so on its own every 2 s); {key: the one worker holding it}."""
    client.run_on_scheduler(_run_amm)
    deadline = time.monotonic() + 30
    while True:
        held = client.who_has()
        if held and all(len(v) == 1 for v in held.values()):
            return {k: v[0] for k, v in held.items()}
        if time.monotonic() > deadline:
            pytest.fail(f"replicas not dropped: {held}")
        time.sleep(0.05)


@contextlib.contextmanager
def local_cluster(**options):
    distributed = pytest.importorskip("distributed")
    config = {"distributed.worker.daemon": False, "distributed.logging.distributed": "error",
              "distributed.scheduler.allowed-failures": 3}
    with dask.config.set(config):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None, **options) as cluster:
            with distributed.Client(cluster) as c:
                c.wait_for_workers(2, timeout=120)
                yield c


@pytest.fixture(scope="module")
def client():
    with local_cluster(memory_limit="1GiB") as c:
        yield c


def test_cluster_gradient_no_generation_on_workers(client):
    client.run(_count_generation)
    w, X, y = logistic_data(n=5000, d=5, seed=4)
    Xd, yd = da.from_array(X, chunks=(400, 5)), da.from_array(y, chunks=400)
    vg = sdask.value_and_grad(logistic_loss)
    first = on_cluster(vg, w, Xd, yd)
    # between calls the scheduler's active memory manager drops the replicas of the shipped gradient that
    # no task waits for (every 2 s; here at once): the next call fetches it again to a worker that had it
    (holder,) = single_replica(client).values()
    second = on_cluster(vg, 0.5 * w, Xd, yd)
    for (value, g), ww in ((first, w), (second, 0.5 * w)):
        ref_value, ref_g = logistic_reference(ww, X, y)
        close(value, ref_value)
        close(g, ref_g)
    counts = client.run(_counts)
    assert all(c["build"] == 0 for c in counts.values()), counts
    # each worker loads the generated module once across tasks (26) and calls, even one that receives the
    # gradient object again: unpickling gives it the copy it already loaded
    assert all(c["load"] == 1 for c in counts.values()), (counts, holder)


def test_cluster_fit_em_matches_single_process(client):
    db = pytest.importorskip("dask.bag")
    rng = np.random.default_rng(5)
    seqs = [rng.integers(0, 4, size=rng.integers(1, 25)) for _ in range(40)]
    init = hmm.random_hmm(3, 4, seed=1)
    kw = dict(n_iter=6, tol=-np.inf, init=init, jit=False)
    ref = hmm.fit_em(seqs, 3, 4, **kw)
    client.run(_count_generation)   # the workers get the E-step shipped, and generate nothing
    res = within(CLUSTER_TIMEOUT, lambda: hmm.fit_em(seqs, 3, 4, client=client, **kw))
    res_bag = within(CLUSTER_TIMEOUT,
                     lambda: hmm.fit_em(db.from_sequence(seqs, npartitions=3), 3, 4, client=client, **kw))
    for r in (res, res_bag):
        np.testing.assert_allclose(r.loglik_trace, ref.loglik_trace, rtol=1e-10)
        for a, b in zip(r.natural_params, ref.natural_params):
            np.testing.assert_allclose(np.exp(a), np.exp(b), rtol=1e-8, atol=1e-12)
    xs = [rng.standard_normal(rng.integers(2, 30)) + 3.0 * (rng.random() < 0.5) for _ in range(20)]
    g_ref = hmm.fit_em_gaussian(xs, 2, n_iter=5, tol=-np.inf, jit=False)
    g_res = within(CLUSTER_TIMEOUT, lambda: hmm.fit_em_gaussian(xs, 2, n_iter=5, tol=-np.inf, jit=False,
                                                                client=client))
    np.testing.assert_allclose(g_res.loglik_trace, g_ref.loglik_trace, rtol=1e-10)
    np.testing.assert_allclose(g_res.means, g_ref.means, rtol=1e-8)
    np.testing.assert_allclose(g_res.variances, g_ref.variances, rtol=1e-8)
    assert all(c["build"] == 0 for c in client.run(_counts).values())


def test_cluster_vi_fit(client):
    """vi.fit over Dask arrays on worker processes. The full-data ELBO kernel holds an ELBO function srcdiff
    generated at run time, which no worker can import: it travels by value, also from one worker to the
    other. Minibatch SVI on the cluster is the same fit, step for step, as on Dask's threads (same seed: the
    same chunks and rows drawn), where test_vi_fit_dask_minibatches_recover_posterior checks the posterior
    (its 1500 steps would take long here: a cluster round trip per 16 steps)."""
    X, y = lin_data(400)
    Xd, yd = da.from_array(X, chunks=(50, 3)), da.from_array(y, chunks=50)
    kw = dict(log_prior=lin_log_prior, seed=0, progress=False, jit=False)
    ref = vi.fit(lin_log_lik, vi.MeanFieldNormal(3), data=(X, y), steps=12, lr=0.05, **kw)
    res = on_cluster(lambda: vi.fit(lin_log_lik, vi.MeanFieldNormal(3), data=(Xd, yd), steps=12, lr=0.05, **kw))
    np.testing.assert_allclose(res.elbo_trace, ref.elbo_trace, rtol=1e-9)
    np.testing.assert_allclose(res.params, ref.params, rtol=1e-8, atol=1e-10)
    mini = dict(batch_size=25, steps=40, lr=0.02, average=0.5, **kw)
    on_threads = vi.fit(lin_log_lik, vi.MeanFieldNormal(3), data=(Xd, yd), **mini)
    res = on_cluster(lambda: vi.fit(lin_log_lik, vi.MeanFieldNormal(3), data=(Xd, yd), **mini))
    np.testing.assert_allclose(res.elbo_trace, on_threads.elbo_trace, rtol=1e-12)
    np.testing.assert_allclose(res.params, on_threads.params, rtol=1e-12)


# Data generated chunk by chunk on the workers (nothing is ever whole in one process): block i of the rows
# is a function of (seed, i) only, so the test recomputes each block in its own process for the reference.

TRUE_W = np.linspace(-1.0, 1.0, 10)


def load_block(seed, i, n, d, crash=None):
    """Rows [i*n, (i+1)*n): X (n, d) and 0/1 labels y from a logistic model. `crash` = (pid, marker file):
    the worker process with that pid dies (os._exit) the first time it loads a block, as a killed machine
    would; the retried task (on a live worker) loads it normally."""
    if crash is not None and os.getpid() == crash[0] and not os.path.exists(crash[1]):
        open(crash[1], "w").close()
        os._exit(1)
    rng = np.random.default_rng([seed, i])
    X = rng.random((n, d))              # uniform on (-1.5, 1.5): cheaper to draw than normals
    X -= 0.5
    X *= 3.0
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(X @ TRUE_W[:d])))).astype(np.float64)
    return X, y


def generated_data(seed, blocks, n, d, crash=None):
    parts = [dask.delayed(load_block, nout=2)(seed, i, n, d, crash) for i in range(blocks)]
    X = da.concatenate([da.from_delayed(p[0], shape=(n, d), dtype=np.float64) for p in parts])
    y = da.concatenate([da.from_delayed(p[1], shape=(n,), dtype=np.float64) for p in parts])
    return X, y


def streamed_reference(w, seed, blocks, n, d):
    """The NumPy value and gradient, summed block by block in this process (one block in memory at once)."""
    value, g = 0.0, np.zeros(d)
    for i in range(blocks):
        v, gi = logistic_reference(w, *load_block(seed, i, n, d))
        value, g = value + v, g + gi
    return value, g


MEMORY_LIMIT = 300 * 2 ** 20       # per worker; a worker process with srcdiff (and Numba) loaded is ~170 MB


@pytest.fixture(scope="module")
def small_client():
    """Two worker processes of 300 MiB each, never spilling to disk or pausing: a worker that goes over 95 %
    of its limit is killed by its nanny (and a task that kills 4 workers fails the computation)."""
    memory = {"distributed.worker.memory.target": False, "distributed.worker.memory.spill": False,
              "distributed.worker.memory.pause": False, "distributed.worker.memory.terminate": 0.95}
    with dask.config.set(memory):
        with local_cluster(memory_limit=MEMORY_LIMIT) as c:
            yield c


def test_cluster_data_larger_than_workers_memory(small_client):
    blocks, n, d = 28, 2 ** 18, 10                     # 28 blocks of 20 MiB (X) + 2 MiB (y): 616 MiB
    X, y = generated_data(11, blocks, n, d)
    assert X.nbytes + y.nbytes > 2 * MEMORY_LIMIT
    w = 0.1 * np.ones(d)
    small_client.wait_for_workers(2, timeout=120)
    pids = small_client.run(os.getpid)
    try:
        before = small_client.run(_reset_peak_rss)
    except OSError as exc:
        pytest.skip(f"no per-process peak memory to reset here (/proc/self/clear_refs: {exc})")
    value, g = on_cluster(sdask.value_and_grad(logistic_loss, jit=False), w, X, y)
    peaks = small_client.run(_rss)
    ref_value, ref_g = streamed_reference(w, 11, blocks, n, d)
    close(value, ref_value)
    close(g, ref_g)
    # the same two worker processes throughout: none went over its limit and was restarted by its nanny
    assert small_client.run(os.getpid) == pids
    # streamed: each worker's own peak during this computation stayed under the limit (about 240 of 300 MiB:
    # a few blocks at a time), and the peak is a real measurement (each held at least one 20 MiB block)
    assert peaks.keys() == before.keys() and len(peaks) == 2
    for worker, peak in peaks.items():
        assert before[worker] + 20 * 2 ** 20 <= peak < 0.95 * MEMORY_LIMIT, (worker, before[worker], peak)


def test_cluster_killed_worker_is_rescheduled(small_client, tmp_path):
    """A worker dies in the middle of a gradient: the scheduler reschedules its tasks on the other worker
    (allowed-failures), and the worker that died held the only copy of the shipped gradient (the active
    memory manager had dropped the other): it is rebuilt, not lost."""
    assert small_client.run_on_scheduler(_allowed_failures) >= 1
    blocks, n, d = 12, 2000, 4
    w = np.array([0.3, -0.2, 0.1, 0.05])
    vg = sdask.value_and_grad(logistic_loss, jit=False)
    close(on_cluster(vg, w, *generated_data(7, blocks, n, d))[1], streamed_reference(w, 7, blocks, n, d)[1])
    (holder,) = single_replica(small_client).values()
    pids = small_client.run(os.getpid)
    marker = str(tmp_path / "crashed")
    X, y = generated_data(7, blocks, n, d, crash=(pids[holder], marker))
    value, g = on_cluster(vg, 2.0 * w, X, y)
    assert os.path.exists(marker), "the worker was not killed: the test checked nothing"
    assert holder not in small_client.scheduler_info()["workers"]
    ref_value, ref_g = streamed_reference(2.0 * w, 7, blocks, n, d)
    close(value, ref_value)
    close(g, ref_g)


def _batches_held(client):
    """{worker: how many of fit_em's sequence batches it holds}."""
    return {w: sum(str(k).startswith("srcdiff-hmm-batch-") for k in keys) for w, keys in client.has_what().items()}


def test_cluster_fit_em_survives_a_killed_worker(small_client):
    """A worker is killed (SIGKILL) between two E-steps of fit_em(client=...), holding sequence batches (and
    maybe the only copy of the shipped E-step): they are computed again from their tasks, and the fit equals
    the single-process one. (Scattered batches, as once, were lost with the worker.)"""
    small_client.wait_for_workers(2, timeout=120)
    rng = np.random.default_rng(8)
    seqs = [rng.integers(0, 4, size=rng.integers(1, 25)) for _ in range(40)]
    kw = dict(n_iter=5, tol=-np.inf, init=hmm.random_hmm(3, 4, seed=2), jit=False)
    ref = hmm.fit_em(seqs, 3, 4, **kw)
    pids = small_client.run(os.getpid)
    killed = []

    def kill_a_worker(iteration, loglik, params):
        if iteration == 1:                            # after the second E-step, before the third
            held = _batches_held(small_client)
            victim = max(held, key=held.get)
            killed.append((victim, held[victim]))
            os.kill(pids[victim], signal.SIGKILL)
    res = within(CLUSTER_TIMEOUT, lambda: hmm.fit_em(seqs, 3, 4, client=small_client, callback=kill_a_worker, **kw))
    assert killed and killed[0][1] > 0, f"the killed worker held no batch: the test checked nothing ({killed})"
    assert killed[0][0] not in small_client.scheduler_info()["workers"]
    np.testing.assert_allclose(res.loglik_trace, ref.loglik_trace, rtol=1e-10)
    for a, b in zip(res.natural_params, ref.natural_params):
        np.testing.assert_allclose(np.exp(a), np.exp(b), rtol=1e-8, atol=1e-12)
