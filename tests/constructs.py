import math
import numpy as np
from scipy.special import logsumexp

def branch(x, y):
    if x > 0.5:
        z = x * y
    elif x > 0:
        z = np.sin(x) + y
    else:
        z = x - y
    return z * z

def loop_sum(x, n):
    s = 0.0
    for i in range(n):
        s = s + np.sin(x * i)
    return s

def while_loop(x):
    k = 0
    while x < 10.0:
        x = x * 1.5 + 0.1
        k += 1
    return x * k

def recurrence(a, b, n):
    ys = np.zeros(n + 1)
    ys[0] = 1.0
    dt = 0.01
    for t in range(n):
        ys[t + 1] = ys[t] + dt * (a * ys[t] - b * ys[t] ** 2)
    return ys[n]

def breaks(x):
    s = 0.0
    for i in range(10):
        s = s + x * i
        if s > 3.0:
            break
    return s

def continues(x):
    s = 0.0
    for i in range(6):
        if i % 2 == 0:
            continue
        s = s + x ** i
    return s

def early_return(x):
    if x > 0:
        return x * x
    y = x * 3.0
    return y + 1.0

def loop_return(x):
    for i in range(10):
        x = x * 1.3
        if x > 5.0:
            return x * i
    return x

def helper(u, v):
    return u * np.exp(v)

def calls(x, y):
    return helper(x, y) + helper(y, 2.0)

def closure(w, xs):
    def pred(xi):
        return np.tanh(np.dot(w, xi))
    s = 0.0
    for xi in xs:
        s = s + pred(xi) ** 2
    return s

sq = lambda v: v * v

def uses_lambda(x):
    cube = lambda v: v * sq(v)
    return np.sum(cube(x))

def hmm(log_pi, log_A, log_B, data):
    log_alpha = log_pi + log_B[:, data[0]]
    for t in range(1, data.shape[0]):
        log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0) + log_B[:, data[t]]
    return logsumexp(log_alpha)

def methods(x):
    return x.sum(axis=0).dot(x.T.mean(axis=1)) + x.max()

def augassign(x):
    y = x.copy()
    y[0] += 2.0 * x[1]
    y *= y
    a, b = y[0], y[1]
    a, b = b, a
    return a - 2 * b + np.sum(y[1:])

def nested(x):
    s = 0.0
    for i in range(3):
        for j in range(4):
            if (i + j) % 2 == 0:
                s = s + x[i] * x[j]
            else:
                s = s - np.cos(x[j])
    return s

def enumerate_zip(x, y):
    s = 0.0
    for i, xi in enumerate(x):
        s = s + i * xi
    for a, b in zip(x, y):
        s = s + a * b
    return s

def reductions(x):
    return np.sum(np.max(x, axis=1)) + np.sum(np.prod(x, axis=0)) + np.sum(logsumexp(x, axis=1, keepdims=True) * x)

def linalg(A, b):
    S = A @ A.T + 3.0 * np.eye(3)
    L = np.linalg.cholesky(S)
    v = np.linalg.solve(S, b)
    sign, ld = np.linalg.slogdet(S)
    return np.sum(v) + ld + np.sum(L) + np.trace(np.linalg.inv(S)) + np.linalg.det(S)

def stacking(x, y):
    z = np.concatenate((x, y, x * y))
    w = np.stack((x, y), axis=1)
    return np.sum(z ** 2) + np.sum(w[:, 0] * w[:, 1])

def where_clip(x):
    y = np.where(x > 0, x ** 2, -x)
    return np.sum(np.clip(y, 0.1, 2.0)) + np.sum(np.maximum(x, 0.2) * np.minimum(x, 0.5)) + np.sum(np.abs(x))

def chained(x):
    if 0 < x < 1:
        return x ** 3
    return x

def mlp_params(params, x, y):
    h = x
    for W, b in params:
        h = np.tanh(h @ W + b)
    return np.sum((h - y) ** 2)

def tuple_arg(p, s):
    w, b = p
    return np.sum(w * s) + b ** 2 + p[0][1] * len(p)

def nested_counter(lam):
    C = 0.0 * np.eye(2)
    k = 2
    for i in range(2):
        for j in range(i):
            C[i, j] = lam[k]
            k = k + 1
        C[i, i] = np.exp(lam[k])
        k = k + 1
    return np.sum(C * C)

COEF = np.array([1.0, 2.0, 3.0])

def uses_global_array(a):
    return np.sum(COEF * a)

def calls_global_user(a, b):
    return uses_global_array(a) * b


def returns_in_nested_loops(x, a):
    """Early returns from a while inside a for and from a second inner loop."""
    for i in range(2):
        c = x
        while c < 2.0:
            if x > 1.5:
                return x * x
            c = c + 0.75
        for j in range(2):
            if x > 0.3:
                return x * x * a[j]
    return x * 3.0


def comprehension_sums(x, W):
    """sum() over generator expressions and list comprehensions: filters, several for clauses, nesting,
    zip targets; `i` outside is not the comprehension's i."""
    i = 3
    loss = sum((x[i] - 0.5) ** 2 for i in range(x.shape[0]) if i != 1)
    loss += sum([np.tanh(W[j, k]) * x[k] for j in range(W.shape[0]) for k in range(j, W.shape[1])])
    total = sum(sum(W[a, b] * x[b] for b in range(W.shape[1])) ** 2 for a in range(W.shape[0]))
    return loss + total + sum(xi * xj for xi, xj in zip(x, x[::-1])) + i * sum(v ** 3 for v in x)
