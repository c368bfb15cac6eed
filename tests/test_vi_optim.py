"""Tests for srcdiff.vi.optim (all optimisers ASCEND)."""
import numpy as np
import pytest

from srcdiff.vi import optim

A = np.array([[3.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 0.5]])
X_STAR = np.array([1.0, -2.0, 3.0])


def objective(x):
    """Concave quadratic, maximum at X_STAR."""
    d = x - X_STAR
    return -0.5 * d @ A @ d


def grad(x):
    return -A @ (x - X_STAR)


def run(opt, n, noise=0.0, seed=0, x0=None):
    rng = np.random.default_rng(seed)
    x = np.zeros(3) if x0 is None else x0
    for _ in range(n):
        g = grad(x) + noise * rng.standard_normal(3)
        x = opt.step(x, g)
    return x


@pytest.mark.parametrize("opt,n,tol", [
    (optim.SGD(lr=0.3), 300, 1e-6),
    (optim.SGD(lr=0.1, momentum=0.8), 400, 1e-6),
    (optim.RobbinsMonro(lr0=0.6, tau=1.0, kappa=0.6), 2000, 1e-4),
    (optim.AdaGrad(lr=0.5), 2000, 1e-4),
    (optim.RMSProp(lr=0.01, decay=0.9), 3000, 0.02),
    (optim.RMSProp(lr=0.01, decay=0.9, grow=0.05), 3000, 1e-3),
    # near the optimum AdaDelta's step tends to lr * g, so lr < 2 / max-eigenvalue(A) is needed
    (optim.AdaDelta(rho=0.9, eps=1e-4, lr=0.5), 1500, 1e-6),
    (optim.Adam(lr=0.05), 2000, 1e-4),
], ids=["sgd", "sgd-momentum", "robbins-monro", "adagrad", "rmsprop", "rmsprop-grow", "adadelta", "adam"])
def test_maximises_concave_quadratic(opt, n, tol):
    x = run(opt, n)
    assert np.max(np.abs(x - X_STAR)) < tol
    assert objective(x) > objective(np.zeros(3))
    assert opt.t == n


@pytest.mark.parametrize("opt", [
    optim.RobbinsMonro(lr0=1.0, tau=5.0, kappa=0.7),
    optim.Adam(lr=0.02),
], ids=["robbins-monro", "adam"])
def test_noisy_gradients(opt):
    rng = np.random.default_rng(1)
    x = np.zeros(3)
    tail = []
    for i in range(4000):
        x = opt.step(x, grad(x) + 1.0 * rng.standard_normal(3))
        if i >= 3000:
            tail.append(x)
    assert np.max(np.abs(np.mean(tail, axis=0) - X_STAR)) < 0.1
    if isinstance(opt, optim.RobbinsMonro):  # decaying steps: the last iterate converges too
        assert np.max(np.abs(x - X_STAR)) < 0.2


def test_ascent_direction_and_no_mutation():
    for name in ("sgd", "robbins-monro", "adagrad", "rmsprop", "adadelta", "adam"):
        opt = optim.get(name)
        p = np.array([0.0, 1.0])
        g = np.array([1.0, -2.0])
        new = opt.step(p, g)
        assert np.all(np.sign(new - p) == np.sign(g)), name
        np.testing.assert_array_equal(p, [0.0, 1.0])
        np.testing.assert_array_equal(g, [1.0, -2.0])
    with pytest.raises(ValueError):
        optim.SGD().step(np.zeros(2), np.zeros(3))


def test_reset_reproduces_trajectory():
    for name in ("sgd", "robbins-monro", "adagrad", "rmsprop", "adadelta", "adam"):
        kw = {"momentum": 0.5} if name == "sgd" else {}
        opt = optim.get(name, **kw)
        a = run(opt, 25)
        opt.reset()
        assert opt.t == 0
        b = run(opt, 25)
        np.testing.assert_array_equal(a, b)


def test_setting_lr_on_an_instance_is_what_its_steps_use():
    """opt.lr = x (and fit(optimizer=opt, lr=x), which sets it) must act as lr=x at construction: RMSProp
    stepped with its adapted lr_t, left at the constructor's lr, so a new lr was ignored silently."""
    g = np.array([1.0, -2.0])
    for name in ("sgd", "robbins-monro", "adagrad", "rmsprop", "adadelta", "adam"):
        opt = optim.get(name)
        opt.lr = 0.5
        np.testing.assert_array_equal(run(opt, 5), run(optim.get(name, lr=0.5), 5), err_msg=name)
    opt = optim.RMSProp()
    opt.lr = 0.5       # first step by the formula: v = (1 - decay) g^2, so lr g / sqrt(v) = lr sign(g) / sqrt(0.1)
    np.testing.assert_allclose(opt.step(np.zeros(2), g), 0.5 * np.sign(g) / np.sqrt(0.1), rtol=1e-7)
    assert "lr=0.5" in repr(opt)


def test_robbins_monro_schedule():
    opt = optim.RobbinsMonro(lr0=2.0, tau=4.0, kappa=0.75)
    assert opt.step_size() == pytest.approx(2.0 * 4.0 ** -0.75)
    opt.step(np.zeros(1), np.ones(1))
    assert opt.step_size() == pytest.approx(2.0 * 5.0 ** -0.75)
    assert opt.step_size(100) == pytest.approx(2.0 * 104.0 ** -0.75)
    x = optim.RobbinsMonro(lr0=0.3, tau=1.0, kappa=1.0).step(np.zeros(1), np.ones(1))
    np.testing.assert_allclose(x, [0.3])
    assert optim.RobbinsMonro(lr=0.7).lr0 == 0.7
    for bad in (0.5, 0.3, 1.2):
        with pytest.raises(ValueError):
            optim.RobbinsMonro(kappa=bad)


def test_rmsprop_growth_rule():
    g = np.array([1.0, 2.0])
    # agreeing gradients: lr_t multiplies by (1 + grow) from the second step on
    opt = optim.RMSProp(lr=0.1, grow=0.1)
    for _ in range(5):
        opt.step(np.zeros(2), g)
    assert opt.lr_t == pytest.approx(0.1 * 1.1 ** 4)
    # alternating gradients: lr_t divides by (1 + grow)
    opt = optim.RMSProp(lr=0.1, grow=0.1)
    for i in range(5):
        opt.step(np.zeros(2), g * (-1) ** i)
    assert opt.lr_t == pytest.approx(0.1 / 1.1 ** 4)
    # orthogonal: unchanged
    opt = optim.RMSProp(lr=0.1, grow=0.1)
    opt.step(np.zeros(2), np.array([1.0, 0.0]))
    opt.step(np.zeros(2), np.array([0.0, 1.0]))
    assert opt.lr_t == pytest.approx(0.1)
    opt.reset()
    assert opt.lr_t == 0.1
    # the step actually taken scales with lr_t
    a = optim.RMSProp(lr=0.1, decay=0.0, grow=0.5)
    b = optim.RMSProp(lr=0.1, decay=0.0)
    a.step(np.zeros(2), g)
    b.step(np.zeros(2), g)
    np.testing.assert_allclose(a.step(np.zeros(2), g), 1.5 * b.step(np.zeros(2), g))
    # without grow the step size never changes
    opt = optim.RMSProp(lr=0.1)
    run(opt, 20)
    assert opt.lr_t == 0.1


def test_adam_first_step_is_lr_sign():
    opt = optim.Adam(lr=0.01)
    x = opt.step(np.zeros(3), np.array([5.0, -0.1, 2.0]))
    np.testing.assert_allclose(x, [0.01, -0.01, 0.01], rtol=1e-6)


def test_get_factory():
    assert isinstance(optim.get("sgd"), optim.SGD)
    assert isinstance(optim.get("robbins-monro"), optim.RobbinsMonro)
    assert isinstance(optim.get("Robbins_Monro"), optim.RobbinsMonro)
    assert isinstance(optim.get("adagrad"), optim.AdaGrad)
    assert isinstance(optim.get("rmsprop", grow=0.1), optim.RMSProp)
    assert isinstance(optim.get("adadelta"), optim.AdaDelta)
    a = optim.get("ADAM", lr=0.3, b1=0.5)
    assert isinstance(a, optim.Adam) and a.lr == 0.3 and a.b1 == 0.5
    assert optim.get(a) is a
    assert isinstance(optim.get(optim.SGD, lr=0.2), optim.SGD)
    with pytest.raises(ValueError):
        optim.get("lbfgs")
    with pytest.raises(TypeError):
        optim.get(a, lr=0.1)
    assert "Adam(" in repr(a)


def _reference_run(opt, params, grads):
    """The textbook NumPy formulas (each optimiser's ``_update``), step by step."""
    out = []
    for g in grads:
        params = params + opt._update(g)
        opt.t += 1
        out.append(params)
    return out


@pytest.mark.parametrize("make", [
    lambda: optim.AdaGrad(lr=0.3),
    lambda: optim.RMSProp(lr=0.05, decay=0.8),
    lambda: optim.RMSProp(lr=0.05, decay=0.8, grow=0.1),
    lambda: optim.AdaDelta(rho=0.9, eps=1e-4, lr=0.7),
    lambda: optim.Adam(lr=0.05, b1=0.8, b2=0.95),
], ids=["adagrad", "rmsprop", "rmsprop-grow", "adadelta", "adam"])
@pytest.mark.parametrize("shape", [(5,), (2, 3)], ids=["vector", "matrix"])
def test_fused_kernels_match_numpy_formulas(make, shape):
    rng = np.random.default_rng(7)
    p0 = rng.normal(size=shape)
    # gradients that sometimes agree and sometimes disagree in direction (exercises RMSProp's grow)
    grads = [rng.normal(size=shape) + (0.5 if i % 3 else -0.5) for i in range(12)]
    fused, ref = make(), make()
    p, got = p0, []
    for g in grads:
        p = fused.step(p, g)
        got.append(p)
    assert got[-1].shape == shape
    np.testing.assert_allclose(got, _reference_run(ref, p0, grads), rtol=1e-12, atol=1e-14)
    if isinstance(fused, optim.RMSProp):
        assert fused.lr_t == pytest.approx(ref.lr_t, rel=1e-12)
    # a non-contiguous view of the same numbers takes the same step
    fused.reset()
    wide = np.zeros(shape[:-1] + (2 * shape[-1],))
    wide[..., ::2] = p0
    np.testing.assert_allclose(fused.step(wide[..., ::2], grads[0]), got[0], rtol=1e-15)


def test_state_shape_change_is_an_error():
    import srcdiff
    opt = optim.Adam()
    opt.step(np.zeros(3), np.ones(3))
    with pytest.raises(srcdiff.SrcdiffError, match="reset"):
        opt.step(np.zeros(4), np.ones(4))
    opt.reset()
    assert opt.step(np.zeros(4), np.ones(4)).shape == (4,)
