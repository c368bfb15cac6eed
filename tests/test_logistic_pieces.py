"""benchmarks/logistic_pieces.py measures the generated logistic gradient with pieces replaced: its variants
must be the gradient they claim to be. The one with every piece in place computes srcdiff's value and
gradient; the rows' loop, once replaced, computes no exp or log1p, and the variant with every piece replaced
compiles and runs."""
import numpy as np

import srcdiff
from benchmark_scripts import load_benchmark
from srcdiff import runtime as rt


def test_pieces_are_the_generated_gradient_with_pieces_replaced():
    lp = load_benchmark("logistic_pieces.py", "logistic_pieces_for_tests")
    w, b, x, y = lp.logistic.problem(41, 6)
    vg = srcdiff.value_and_grad(lp.logistic.loss, wrt=("w", "b"), jit=True)
    value, (dw, db) = vg(w, b, x, y)
    src = srcdiff.source(vg)
    got_value, (got_dw, got_db) = lp.compiled(src, rt.rows_dot, rt.rows_add)(w, b, x, y)
    np.testing.assert_allclose([got_value, got_db], [value, db], rtol=1e-12)
    np.testing.assert_allclose(got_dw, dw, rtol=1e-12)
    bare = lp.without_rows_loop(src)
    assert "rt.exp(" in src and "rt.log1p(" in src
    assert "rt.exp(" not in bare and "rt.log1p(" not in bare and "rt.rows_add(" in bare
    assert np.isfinite(lp.compiled(bare, lp.no_rows_dot, lp.no_rows_add)(w, b, x, y)[0])
