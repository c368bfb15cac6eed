"""srcdiff.cuda.vmap of gradients holding log-domain products (transforms/logdomain.py: a loop's
`logsumexp(v[:, None] + M, axis=0)` from a table of exp(M), rt.exp_shifted, made before the loop). The device
computes each product and adjoint helper by its direct formula, as plain Python's helpers do (srcdiff/cuda/logdomain.py);
before, vmap declined them (the most common decline of the all-features CUDA fuzz). Each case runs on numba's CUDA
simulator (a subprocess: NUMBA_ENABLE_CUDASIM must be set before numba is imported) against the CPU transform per
example; the CPU gradients are checked against central differences of f."""
import json
import os

if __name__ == "__main__":      # the simulator subprocess (cuda_sim.results_of sets "0" for a real GPU)
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import numpy as np  # noqa: E402
from scipy.special import logsumexp  # noqa: E402

import srcdiff  # noqa: E402

B = 4


# ---- user functions ------------------------------------------------------------------------------------
def hmm_forward(log_A, log_alpha, n):
    """The HMM forward recursion: rt.logsumexp_vecmat with the table of log_A's exponentials."""
    for t in range(n):
        log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0) + 0.1 * log_alpha
    return logsumexp(log_alpha)


def hmm_backward(log_A, log_beta, n):
    """The backward recursion: rt.logsumexp_matvec (the sum along axis 1)."""
    for t in range(n):
        log_beta = logsumexp(log_A + log_beta[None, :], axis=1)
    return logsumexp(log_beta) + np.sum(np.exp(log_beta))


def varying_transitions(log_As, log_alpha):
    """A matrix of a stack per step: the table of the stack, rt.table_at(E, t) of each."""
    for t in range(log_As.shape[0]):
        log_alpha = logsumexp(log_alpha[:, None] + log_As[t], axis=0)
    return logsumexp(log_alpha)


def nested_loops(log_A, log_alpha, n):
    """The table made in an outer loop, of a matrix it changes: reverse mode keeps the tables on a stack."""
    for s in range(2):
        log_A = log_A * 0.9
        for t in range(n):
            log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0)
    return logsumexp(log_alpha)


def _data():
    rng = np.random.default_rng(3)
    log_A = np.log(rng.uniform(0.1, 0.9, (B, 3, 3)))
    log_As = np.log(rng.uniform(0.1, 0.9, (B, 4, 3, 3)))
    v = np.log(rng.uniform(0.1, 0.9, (B, 3)))
    sparse = log_A.copy()
    sparse[:, 0, 1] = sparse[:, 2, 0] = -np.inf         # transitions of probability zero: exact zero weights
    return {   # name: (f, wrt, args, in_axes, the transform)
        "forward_grad_v": (hmm_forward, 1, (log_A[0], v, 4), (None, 0, None), srcdiff.grad),
        "forward_grad_both": (hmm_forward, (0, 1), (log_A, v, 4), (0, 0, None), srcdiff.grad),
        "forward_value_and_grad": (hmm_forward, (0, 1), (log_A, v, 3), (0, 0, None), srcdiff.value_and_grad),
        "forward_hvp": (hmm_forward, (0, 1), (log_A, v, 3), (0, 0, None), srcdiff.hvp),
        "backward_grad_both": (hmm_backward, (0, 1), (log_A, v, 4), (0, 0, None), srcdiff.grad),
        "backward_hvp": (hmm_backward, 1, (log_A[0], v, 3), (None, 0, None), srcdiff.hvp),
        "zero_transitions_grad": (hmm_forward, (0, 1), (sparse, v, 4), (0, 0, None), srcdiff.grad),
        "nested_grad": (nested_loops, (0, 1), (log_A, v, 3), (0, 0, None), srcdiff.grad),
        "nested_hvp": (nested_loops, (0, 1), (log_A, v, 3), (0, 0, None), srcdiff.hvp),
        "varying_grad": (varying_transitions, (0, 1), (log_As, v), (0, 0), srcdiff.grad),
    }


def _leaves(r):
    if isinstance(r, (tuple, list)):
        return [x for e in r for x in _leaves(e)]
    return [np.ravel(np.asarray(r, dtype=float))]


def _fd_grad(f, wrt, args, h=1e-6):
    out = []
    for k in (wrt if isinstance(wrt, tuple) else (wrt,)):
        x = np.array(args[k], dtype=float)
        g = np.zeros(x.size)
        for j in range(x.size):
            e = np.zeros(x.size)
            e[j] = h
            up, down = list(args), list(args)
            up[k], down[k] = x + e.reshape(x.shape), x - e.reshape(x.shape)
            g[j] = (f(*up) - f(*down)) / (2 * h)
        out.append(g)
    return np.concatenate(out)


def _run_all():
    res = {}
    rng = np.random.default_rng(5)
    for name, (f, wrt, args, axes, make) in _data().items():
        try:
            g = make(f, wrt=wrt)
            examples = [[(a[i] if ax == 0 else a) for a, ax in zip(args, axes)] for i in range(B)]
            extra, eaxes = (), ()
            if make is srcdiff.hvp:
                ks = wrt if isinstance(wrt, tuple) else (wrt,)
                t = tuple(rng.normal(size=np.shape(args[k])) for k in ks)
                extra, eaxes = ((t if isinstance(wrt, tuple) else t[0]),), ((axes[ks[0]],) * len(ks)
                                                                          if isinstance(wrt, tuple) else axes[ks[0]],)
                examples = [ex + [tuple(x[i] if axes[k] == 0 else x for x, k in zip(t, ks)) if isinstance(wrt, tuple)
                                  else (t[0][i] if axes[ks[0]] == 0 else t[0])] for i, ex in enumerate(examples)]
            out = srcdiff.cuda.vmap(g, in_axes=axes + eaxes, max_trip=8)(*args, *extra)
            got = np.concatenate([np.reshape(x, (B, -1)) for x in _leaves(out)], axis=1)
            cpu = np.array([np.concatenate(_leaves(g(*ex))) for ex in examples])
            r = {"vs_cpu": float(np.max(np.abs(got - cpu))), "scale": float(np.max(np.abs(cpu)))}
            if make is srcdiff.grad and np.all(np.isfinite(args[0])):
                fd = np.array([_fd_grad(f, wrt, ex) for ex in examples])
                r["cpu_vs_fd"] = float(np.max(np.abs(cpu - fd)))
            res[name] = r
        except Exception as ex:  # reported to the parent test
            res[name] = f"{type(ex).__name__}: {ex}"
    return res


# ---- pytest ------------------------------------------------------------------------------------------
if __name__ != "__main__":
    import pytest
    import cuda_sim

    results = cuda_sim.results_fixture(__file__)

    @pytest.mark.parametrize("name", list(_data()))
    def test_log_domain_product_matches_cpu(results, name):
        r = results[name]
        assert isinstance(r, dict), r
        assert r["scale"] > 1e-3
        assert r["vs_cpu"] <= 1e-10 * max(1.0, r["scale"]), r
        if "cpu_vs_fd" in r:
            assert r["cpu_vs_fd"] <= 1e-6 * max(1.0, r["scale"]), r

    @pytest.mark.parametrize("name", list(_data()))
    def test_gradient_holds_a_log_domain_product(name):
        """(what the cases test: the CPU gradient computes a log-domain product, with its table)"""
        from srcdiff.transforms.kinds import kind_of_value
        f, wrt, args, axes, make = _data()[name]
        example = [(a[0] if ax == 0 else a) for a, ax in zip(args, axes)]
        g = srcdiff.grad(f, wrt=wrt)
        source = g.specialise(tuple(kind_of_value(a) for a in example)).source
        assert "rt.exp_shifted(" in source and "rt.logsumexp_" in source

    def test_direct_products_rewrites_the_fused_adjoints():
        """`d_v = rt.P_adjoints(w, v, M, E, m, d_M)`: d_M += the weights, d_v = their sum; the tables dropped."""
        import ast
        from srcdiff.cuda.logdomain import direct_products
        fn = ast.parse("def f(M, v, w, m, d_M):\n    E = rt.exp_shifted(M, 0)\n    E1 = E\n"
                       "    d_v = rt.logsumexp_vecmat_adjoints(w, v, M, E1, m, d_M)\n    return d_v").body[0]
        assert direct_products(fn)
        assert ast.unparse(fn).splitlines()[1:] == [
            "    d_M += rt.logsumexp_grad(w, rt.expand_dims(v, 1) + M, m, 0)",
            "    d_v = rt.sum(rt.logsumexp_grad(w, rt.expand_dims(v, 1) + M, m, 0), 1)",
            "    return d_v"]

    def test_direct_products_rewrites_added_adjoints():
        """`d_v += rt.P_adjoints(...)` (fuzz 797154: d_v has another term); a d_M the arguments read: left as it is."""
        import ast
        from srcdiff.cuda.logdomain import direct_products
        fn = ast.parse("def f(M, v, w, m, d_M, d_v):\n    E = rt.exp_shifted(M, 1)\n"
                       "    d_v += rt.logsumexp_matvec_adjoints(w, M, v, E, m, d_M[0])\n    return d_v").body[0]
        assert direct_products(fn)
        assert ast.unparse(fn).splitlines()[1:] == [
            "    d_M[0] += rt.logsumexp_grad(w, M + rt.expand_dims(v, 0), m, 1)",
            "    d_v += rt.sum(rt.logsumexp_grad(w, M + rt.expand_dims(v, 0), m, 1), 0)",
            "    return d_v"]
        text = ("def f(M, v, w, m, d_M):\n    E = rt.exp_shifted(M, 1)\n"
                "    d_v = rt.logsumexp_matvec_adjoints(w, M, v, E, d_M, d_M)\n    return d_v")
        fn = ast.parse(text).body[0]
        assert not direct_products(fn) and ast.unparse(fn) == ast.unparse(ast.parse(text).body[0])

    def test_table_read_otherwise_left_declined():
        """A table read by anything but a product (kept on a stack here): the function is left as it is, and the
        lowering declines the product with its advice (at the user's line: test_log_domain_declined_at_user_line)."""
        import ast
        from srcdiff.cuda.logdomain import direct_products
        text = ("def f(M, v, s):\n    E = rt.exp_shifted(M, 0)\n    s.append(E)\n"
                "    return rt.logsumexp_vecmat(v, M, E) + len(s)")
        fn = ast.parse(text).body[0]
        assert not direct_products(fn)
        assert ast.unparse(fn) == ast.unparse(ast.parse(text).body[0])
    @pytest.mark.parametrize("make", [srcdiff.grad, srcdiff.hvp])
    def test_log_domain_declined_at_user_line(monkeypatch, make):
        """Where the rewrite does not apply (here: turned off), vmap declines the product at the user's line (hvp too,
        naming the line of the generated gradient it comes from: it was reported at that line only), naming the
        construct, with advice."""
        import srcdiff.cuda.lower
        monkeypatch.setattr(srcdiff.cuda.lower, "direct_products", lambda fn: False)
        log_A = np.log(np.linspace(0.1, 0.9, 9).reshape(3, 3))
        log_alpha = np.log(np.linspace(0.2, 0.8, 3 * B).reshape(B, 3))
        args, axes = ((log_A, log_alpha, 4), (None, 0, None)) if make is srcdiff.grad else \
            ((log_A, log_alpha, 4, log_alpha), (None, 0, None, 0))
        k = srcdiff.cuda.vmap(make(hmm_forward, wrt=1), in_axes=axes)
        where = r"test_cuda_logdomain.py:\d+: cannot generate CUDA code for hmm_forward: "     # (hvp too: the user's name)
        line = r"log_alpha = logsumexp\(log_alpha\[:, None\] \+ log_A, axis=0\)( \+ 0.1 \* log_alpha)?"
        if make is srcdiff.hvp:     # (the user's line first, then the gradient's that hvp differentiates)
            line += (r"\n    \(in the code srcdiff generated from this line, at \S*hmm_forward_grad\w*\.py:\d+: "
                     r"exp_log_A = rt.exp_shifted\(log_A, 0\)\)")
        with pytest.raises(srcdiff.SrcdiffError, match=where + r"a log-domain product(.|\n)*line \d+: " + line +
                           r"\n  hint: write that log-sum-exp as loops"):
            k.ptx(*args, cc=(9, 0))
else:
    print(json.dumps(_run_all()))
