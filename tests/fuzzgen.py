"""Random-program generator for the srcdiff fuzz tests (tests/test_fuzz.py).

A program is a module with optional helper functions and one entry `f(x, a, M)`:
x is a float, a has shape (N,), M has shape (2, N).  Every choice the generator makes goes
through `choose(n)` (an integer in [0, n)), so the same generator runs from a seeded
`random.Random` (long mode) or from hypothesis draws (CI mode, where shrinking drives choices
toward 0 -- and choice 0 is always the simplest option, so hypothesis minimises programs).

Values are kept in a modest range by construction: exp only of tanh/sin (or of 0.3 * ...),
log and sqrt only of 1 + square, divisions by 1.5 + square, loop updates damped.
Arrays written in place (`buf[i] = ...`) are always fresh locals, never parameters or aliases.

Features aimed at particular passes: 'logdomain' generates `logsumexp(p[:, None] + M, axis=0)` and
`logsumexp(M + v[None, :], axis=1)` with M a name (rewritten into log-domain products inside loops,
transforms/logdomain.py) and an HMM-style loop-carried recursion over a (2, 2) matrix; 'views'
reads loop-indexed slices and columns of arrays (`M[:, i]`, `a[i:]`), which the backward sweep
takes again instead of storing (remat_plan in transforms/reverse.py).

`penalty_program` wraps a program in `h`, the squared norm of its gradient, so that the checks
differentiate srcdiff's generated code in reverse mode again (tests/test_fuzz.py, nested mode).
"""
from __future__ import annotations

import importlib.util
import os
import random
import sys

import numpy as np

KINDS = ("s", "v", "m")           # scalar, vector (N,), matrix (2, N)


class Program:
    def __init__(self, source: str, N: int):
        self.source, self.N = source, N

    def load(self, directory: str, name: str):
        """Write the program to a real .py file and import it (inspect.getsource works)."""
        path = os.path.join(directory, f"{name}.py")
        with open(path, "w") as fh:
            fh.write(self.source)
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        return mod

    def args(self, rng: np.random.Generator):
        return [float(rng.normal()), rng.normal(size=self.N), rng.normal(size=(2, self.N))]


class Gen:
    """`choose(n) -> int in [0, n)`; `features` switches off construct families (see EXCLUDE)."""

    def __init__(self, choose, features=None, max_depth=3, max_stmts=5):
        self.choose = choose
        self.features = set(features) if features is not None else set(ALL_FEATURES)
        self.max_depth, self.max_stmts = max_depth, max_stmts
        self.counter = 0
        self.helpers = []          # (name, [arg kinds], ret kind)
        self.helper_src = []

    # -- utilities -------------------------------------------------------------------------------
    def fresh(self, base):
        self.counter += 1
        return f"{base}{self.counter}"

    def pick(self, seq):
        return seq[self.choose(len(seq))]

    def coin(self, p_in_8=4):
        """True with probability about p/8; shrinks to False."""
        return self.choose(8) >= 8 - p_in_8

    def const(self):
        return self.pick(["0.5", "1.5", "-0.7", "2.0", "0.3", "-1.2"])

    # -- expressions -----------------------------------------------------------------------------
    def leaf(self, kind, env):
        # in-place-written buffers are read only element-wise (buf[i] is a copy): no aliasing
        cands = [n for n, k in env["vars"].items() if k == kind and n not in env["bufs"]]
        if kind == "s":
            opts = ["const"] + (["var"] * 3 if cands else [])
            if [n for n in env["vec"] if n not in env["bufs"]]:
                opts.append("index")
            if env["bufs"]:
                opts.append("bufread")
            if env["loops"]:
                opts.append("loopvar")
            o = self.pick(opts)
            if o == "const":
                return self.const()
            if o == "var":
                return self.pick(cands)
            if o == "bufread":
                b = self.pick(env["bufs"])
                i = self.pick(env["loops"]) if env["loops"] and self.coin() else str(self.choose(self.N))
                return f"{b}[{self.choose(2)}, {i}]" if env["vars"][b] == "m" else f"{b}[{i}]"
            if o == "index":
                v = self.pick([n for n in env["vec"] if n not in env["bufs"]])
                if env["loops"] and self.coin():
                    return f"{v}[{self.pick(env['loops'])}]"
                return f"{v}[{self.choose(self.N)}]"
            return f"({self.pick(env['loops'])} * 0.25)"
        if kind == "v":
            mats = [n for n, k in env["vars"].items() if k == "m" and n not in env["bufs"]]
            if mats and (not cands or self.coin(2)):
                return f"{self.pick(mats)}[{self.choose(2)}]"
            if cands:
                return self.pick(cands)
            return f"(np.ones({self.N}) * {self.const()})"
        if cands:
            return self.pick(cands)
        return f"(np.ones((2, {self.N})) * {self.const()})"

    def expr(self, kind, env, depth):
        if depth <= 0 or self.choose(4) == 0:
            return self.leaf(kind, env)
        d = depth - 1
        opts = ["bin", "bin", "unary", "unary", "div", "neg"]
        if "where" in self.features:
            opts.append("where")
        if "maximum" in self.features:
            opts.append("maximum")
        if self.helpers and "helpers" in self.features:
            opts.append("helper")
        if env.get("closures") and "closures" in self.features:
            opts.append("closure")
        if kind == "s":
            opts += ["reduce_v", "reduce_v", "reduce_m", "dot", "slice"]
            if "views" in self.features and env["loops"]:
                opts.append("loopview")
            if "logdomain" in self.features:
                opts.append("lse_matvec")
        if kind == "v":
            opts += ["reduce_m", "dotmv", "slice_v"]
            if "logdomain" in self.features:
                opts.append("lse_vecmat")
        if kind == "m":
            opts += ["col", "rowb"]
        o = self.pick(opts)
        if o == "bin":
            op = self.pick(["+", "*", "-"])
            other = self.pick([kind, "s"] + (["v"] if kind == "m" else []))
            l, r = self.expr(kind, env, d), self.expr(other, env, d)
            if self.coin():
                l, r = r, l
            return f"({l} {op} {r})"
        if o == "div":
            return f"({self.expr(kind, env, d)} / (1.5 + np.square({self.expr(self.pick([kind, 's']), env, d)})))"
        if o == "neg":
            return f"(-{self.expr(kind, env, d)})"
        if o == "unary":
            e = self.expr(kind, env, d)
            u = self.pick(["sin", "tanh", "exp", "log", "sqrt", "square", "exp2"])
            return {"sin": f"np.sin({e})", "tanh": f"np.tanh({e})", "exp": f"np.exp(np.tanh({e}))",
                    "log": f"np.log(1.0 + {e} * {e})", "sqrt": f"np.sqrt(1.0 + np.square({e}))",
                    "square": f"np.square({e})", "exp2": f"np.exp(0.3 * np.sin({e}))"}[u]
        if o == "where":
            c = self.expr(self.pick([kind, "s"]), env, d)
            return f"np.where({c} > {self.const()}, {self.expr(kind, env, d)}, {self.expr(kind, env, d)})"
        if o == "maximum":
            other = self.pick([kind, "s"])
            if self.coin():
                return f"np.maximum({self.expr(kind, env, d)}, {self.const()})"
            return f"np.maximum({self.expr(kind, env, d)}, {self.expr(other, env, d)})"
        if o == "helper":
            name, kinds, ret = self.pick(self.helpers)
            e = f"{name}({', '.join(self.expr(k, env, d) for k in kinds)})"
            return e if ret == kind else self.coerce(e, ret, kind)
        if o == "closure":
            name, ret = self.pick(env["closures"])
            e = f"{name}({self.expr('s', env, d)})"
            return e if ret == kind else self.coerce(e, ret, kind)
        if o == "reduce_v":
            e = self.expr("v", env, d)
            r = self.pick(["sum", "mean", "max", "lse", "index"])
            return {"sum": f"np.sum({e})", "mean": f"np.mean({e})", "max": f"np.max({e})",
                    "lse": f"logsumexp({e})", "index": f"({e})[{self.choose(self.N)}]"}[r]
        if o == "reduce_m":
            e = self.expr("m", env, d)
            if kind == "s":
                r = self.pick(["sum", "mean", "max", "lse", "index"])
                return {"sum": f"np.sum({e})", "mean": f"np.mean({e})", "max": f"np.max({e})",
                        "lse": f"logsumexp({e})", "index": f"({e})[{self.choose(2)}, {self.choose(self.N)}]"}[r]
            r = self.pick(["sum", "mean", "max", "lse", "row", "method"])
            return {"sum": f"np.sum({e}, axis=0)", "mean": f"np.mean({e}, axis=0)",
                    "max": f"np.max({e}, axis=0)", "lse": f"logsumexp({e}, axis=0)",
                    "row": f"({e})[{self.choose(2)}]", "method": f"({e}).sum(axis=0)"}[r]
        if o == "dot":
            return f"np.dot({self.expr('v', env, d)}, {self.expr('v', env, d)})"
        if o == "slice":
            e = self.expr("v", env, d)
            return self.pick([f"np.sum(({e})[1:] * ({e})[:-1])", f"np.sum(({e})[:2])",
                              f"np.sum(({e})[::-1] * {self.expr('v', env, d)})"])
        if o == "dotmv":
            m = self.expr("m", env, d)
            return f"np.dot(({m})[:, {self.choose(self.N)}], {self.expr('m', env, d)})"
        if o == "slice_v":
            e = self.expr("v", env, d)
            return self.pick([f"({e})[::-1]", f"np.concatenate((({e})[1:], ({e})[:1]))"]) \
                if "concat" in self.features else f"({e})[::-1]"
        if o == "loopview":   # slices/columns of arrays indexed by a loop variable (views re-taken backward)
            i = self.pick(env["loops"])
            mats = [n for n, k in env["vars"].items() if k == "m" and n not in env["bufs"]]
            vecs = [n for n in env["vec"] if n not in env["bufs"]]
            forms = [f"np.sum({self.pick(vecs)}[{i}:])", f"np.sum({self.pick(vecs)}[:{i} + 1])"] if vecs else []
            if mats:
                m = self.pick(mats)
                forms += [f"np.sum({m}[:, {i}])", f"{m}[:, {i}][{self.choose(2)}]",
                          f"np.dot({m}[:, {i}], {m}[:, {self.choose(self.N)}])",
                          f"np.sum({m}[:, {i}:] * {self.expr('s', env, d)})"]
            return self.pick(forms) if forms else self.leaf(kind, env)
        if o == "lse_vecmat":   # logsumexp(p[:, None] + M, axis=0), M a name: log-domain product in loops
            return f"logsumexp({self.pair(env, d)}[:, None] + {self.matrix_name(env)}, axis=0)"
        if o == "lse_matvec":   # the mirrored form, over the rows: shape (2,)
            m, v = self.matrix_name(env), self.expr("v", env, d)
            e = self.pick([f"logsumexp({m} + ({v})[None, :], axis=1)", f"logsumexp({m} + {v}, axis=1)"])
            return self.pick([f"{e}[{self.choose(2)}]", f"np.sum({e})"])
        if o == "col":   # (2, N) op (2, 1): broadcasting over a size-1 axis
            m = self.expr("m", env, d)
            c = self.pick([f"({self.expr('m', env, d)})[:, 1:2]",
                           f"np.sum({self.expr('m', env, d)}, axis=1, keepdims=True)",
                           f"({self.expr('m', env, d)})[:, 0][:, None]"])
            return f"({m} {self.pick(['+', '*'])} {c})"
        if o == "rowb":  # (1, N) * (2, N)
            return f"({self.expr('v', env, d)}[None, :] * {self.expr('m', env, d)})"
        raise AssertionError(o)

    def matrix_name(self, env):
        """A (2, N) matrix by name (buffers too: whether it is loop-invariant is for srcdiff to find)."""
        mats = [n for n, k in env["vars"].items() if k == "m"]
        return self.pick(mats) if mats else f"(np.ones((2, {self.N})) * {self.const()})"

    def pair(self, env, d):
        """An expression of shape (2,)."""
        pairs = [n for n, k in env["vars"].items() if k == "p" and n not in env["bufs"]]
        opts = [f"({self.expr('m', env, d)})[:, {self.choose(self.N)}]", f"np.sum({self.expr('m', env, d)}, axis=1)"]
        if env["loops"]:
            opts.append(f"{self.matrix_name(env)}[:, {self.pick(env['loops'])}]")
        return self.pick(opts + pairs * 2)

    def coerce(self, e, have, want):
        if have == want:
            return e
        if want == "s":
            return f"np.sum({e})"
        if have == "s":
            return f"({e} * np.ones({self.N}))" if want == "v" else f"({e} * np.ones((2, {self.N})))"
        if have == "v":   # want m
            return f"({e} * np.ones((2, {self.N})))"
        return f"np.sum({e}, axis=0)"  # m -> v

    # -- statements ------------------------------------------------------------------------------
    def block(self, env, depth, n, in_loop=False, top=False):
        lines = []
        for _ in range(n):
            lines += self.stmt(env, depth, in_loop, top)
        return lines or ["pass"]

    def child(self, env):
        e = dict(env)
        e["vars"] = dict(env["vars"])
        e["vec"] = list(env["vec"])
        e["bufs"] = list(env["bufs"])
        e["loops"] = list(env["loops"])
        e["closures"] = list(env.get("closures", []))
        return e

    def stmt(self, env, depth, in_loop, top):
        opts = ["assign", "assign", "reassign"]
        if depth > 0:
            opts += ["if"]
            if "for" in self.features:
                opts += ["for", "for"]
            if "while" in self.features:
                opts += ["while"]
        if "inplace" in self.features:
            opts += ["buffer"] if top else []
            if env["bufs"]:
                opts += ["write", "write"]
        if in_loop and "break" in self.features:
            opts += ["break"]
        if top and "closures" in self.features and depth > 0:
            opts += ["closure"]
        if top and "logdomain" in self.features and "for" in self.features and depth > 0:
            opts += ["recursion"]
        if "return" in self.features and depth < self.max_depth:
            opts += ["early_return"]
        o = self.pick(opts)
        ed = self.max_depth
        if o == "assign":
            kind = self.pick(KINDS)
            name = self.fresh("t")
            line = f"{name} = {self.expr(kind, env, ed)}"
            env["vars"][name] = kind
            if kind == "v":
                env["vec"].append(name)
            return [line]
        if o == "reassign":
            cands = [n for n in env["vars"] if n not in env["bufs"] and env["vars"][n] != "p"]
            name = self.pick(cands)
            kind = env["vars"][name]
            e = self.expr(kind, env, ed)
            if env["loops"] or in_loop:   # damped update inside loops
                return [self.pick([f"{name} = 0.5 * {name} + 0.5 * np.tanh({e})", f"{name} = np.sin({e})"])]
            # `t += e` only on scalars: on arrays it is in place (t may be a view of a parameter)
            return [f"{name} += {e}" if kind == "s" and self.coin() else f"{name} = {e}"]
        if o == "buffer":
            name = self.fresh("buf")
            kind = self.pick(["v", "m"])
            src = {"v": [f"np.zeros({self.N})", "a.copy()", "np.copy(a)", "a * 1.0"],
                   "m": [f"np.zeros((2, {self.N}))", "M.copy()", "np.copy(M)"]}[kind]
            env["vars"][name] = kind
            env["bufs"].append(name)
            if kind == "v":
                env["vec"].append(name)
            return [f"{name} = {self.pick(src)}"]
        if o == "write":
            b = self.pick(env["bufs"])
            idx = self.pick(env["loops"]) if env["loops"] and self.coin(6) else str(self.choose(self.N))
            if env["vars"][b] == "m":
                idx = f"{self.choose(2)}, {idx}"
            e = self.expr("s", env, ed - 1)
            op = self.pick(["=", "+=", "-=", "*="])
            if op == "*=":
                e = f"np.tanh({e})"
            return [f"{b}[{idx}] {op} {e}"]
        if o == "break":
            return [f"if {self.expr('s', env, 1)} > {self.const()}:", "    break"]
        if o == "early_return":
            return [f"if {self.expr('s', env, 1)} > {self.const()}:", f"    return {self.expr(env.get('ret', 's'), env, 2)}"]
        if o == "if":
            c = self.expr("s", env, 2)
            body = self.block(self.child(env), depth - 1, 1 + self.choose(self.max_stmts // 2), in_loop)
            out = [f"if {c} > {self.const()}:"] + ["    " + l for l in body]
            if self.coin(5):
                orelse = self.block(self.child(env), depth - 1, 1 + self.choose(2), in_loop)
                out += ["else:"] + ["    " + l for l in orelse]
            return out
        if o == "for":
            i = self.fresh("i")
            start = self.pick(["", "", "1, "])
            stop = 1 + self.choose(self.N)
            stop_s = self.pick([str(stop), str(stop), "a.shape[0]" if stop == self.N and env["vars"].get("a") == "v" else str(stop)])
            inner = self.child(env)
            inner["loops"].append(i)
            body = self.block(inner, depth - 1, 1 + self.choose(self.max_stmts - 1), True)
            return [f"for {i} in range({start}{stop_s}):"] + ["    " + l for l in body]
        if o == "while":
            c = self.fresh("c")
            inner = self.child(env)
            body = self.block(inner, depth - 1, 1 + self.choose(self.max_stmts // 2), False)
            body.append(f"{c} = {c} + 0.75 + 0.25 * np.tanh({self.expr('s', env, 1)})")
            return [f"{c} = np.tanh({self.expr('s', env, 1)})", f"while {c} < 2.0:"] + ["    " + l for l in body]
        if o == "recursion":   # the HMM forward recursion: a loop-carried pair through a log-domain product
            alpha, sq, i = self.fresh("alpha"), self.fresh("sq"), self.fresh("i")
            m = self.expr("m", env, 1)
            sq_src = ["M[:, :2]", "np.tanh(M[:, :2])", f"0.5 * ({m})[:, 1:3]" if self.N > 2 else "M[:, :2] * 0.5"]
            lines = [f"{sq} = {self.pick(sq_src)}",
                     f"{alpha} = {self.pair(env, 1)}"]
            inner = self.child(env)
            inner["loops"].append(i)
            body = self.block(inner, 0, self.choose(2), True) if self.coin(3) else []
            step = self.pick([f"logsumexp({alpha}[:, None] + {sq}, axis=0)",
                              f"logsumexp({sq} + {alpha}[None, :], axis=1)"])
            if self.coin():
                step += f" + {self.pick(['M', 'np.tanh(M)'])}[:, {i}]"
            body.append(f"{alpha} = {step}")
            env["vars"][alpha] = "p"
            stop = 1 + self.choose(self.N)
            return lines + [f"for {i} in range({stop}):"] + ["    " + l for l in body]
        if o == "closure":
            name = self.fresh("inner")
            ret = self.pick(["s", "v"])
            cenv = self.child(env)
            cenv["vars"]["u"] = "s"
            cenv["closures"] = []
            cenv["loops"] = []
            lines = [f"def {name}(u):"]
            if self.coin(3):   # a closure nested in the closure
                n2 = self.fresh("inner")
                lines += [f"    def {n2}(z):", f"        return z * {self.expr('s', cenv, 1)}"]
                cenv["closures"] = [(n2, "s")]
            body_lines = []
            if self.coin():
                tname = self.fresh("w")
                body_lines.append(f"{tname} = {self.expr(ret, cenv, 2)}")
                cenv["vars"][tname] = ret
            body_lines.append(f"return {self.expr(ret, cenv, 2)}")
            lines += ["    " + l for l in body_lines]
            env.setdefault("closures", []).append((name, ret))
            return lines
        raise AssertionError(o)

    def helper(self):
        name = self.fresh("helper")
        kinds = [self.pick(KINDS) for _ in range(1 + self.choose(2))]
        ret = self.pick(KINDS)
        params = [f"p{j}" for j in range(len(kinds))]
        env = {"vars": dict(zip(params, kinds)), "vec": [p for p, k in zip(params, kinds) if k == "v"],
               "bufs": [], "loops": [], "closures": [], "ret": ret}
        body = self.block(env, 1, self.choose(3))
        if body == ["pass"]:
            body = []
        body.append(f"return {self.expr(ret, env, 2)}")
        self.helper_src.append("\n".join([f"def {name}({', '.join(params)}):"] + ["    " + l for l in body]))
        self.helpers.append((name, kinds, ret))

    def program(self) -> Program:
        self.N = 2 + self.choose(3)
        if "helpers" in self.features:
            for _ in range(self.choose(3)):
                self.helper()
        env = {"vars": {"x": "s", "a": "v", "M": "m"}, "vec": ["a"], "bufs": [], "loops": [], "closures": []}
        body = self.block(env, 2, 1 + self.choose(self.max_stmts), top=True)
        locals_ = [n for n in env["vars"] if n not in ("x", "a", "M")]
        terms = [self.expr("s", env, 2)] + [f"np.sum({n})" if env["vars"][n] != "s" else n for n in locals_]
        body.append("return " + " + ".join(terms))
        header = "import numpy as np\nfrom scipy.special import logsumexp\n\n\n"
        src = header + "\n\n\n".join(self.helper_src + ["\n".join(
            ["def f(x, a, M):"] + ["    " + l for l in body])]) + "\n"
        return Program(src, self.N)


ALL_FEATURES = ("where", "maximum", "helpers", "closures", "for", "while", "break", "inplace", "return",
                "concat", "views", "logdomain")


def penalty_program(prog: Program) -> Program:
    """The program plus `h(x, a, M)`, the squared norm of f's gradient: differentiating h is reverse
    mode over srcdiff's own generated gradient (stacks, scatter-adds, fused kernels)."""
    src = prog.source.replace("import numpy as np\n", "import numpy as np\nimport srcdiff\n", 1)
    src += ("\n\ndef h(x, a, M):\n"
            "    gx, ga, gM = srcdiff.grad(f, wrt=(0, 1, 2))(x, a, M)\n"
            "    return gx * gx + np.sum(ga * ga) + np.sum(gM * gM)\n")
    return Program(src, prog.N)


def seeded_program(seed: int, features=None) -> Program:
    r = random.Random(seed)
    return Gen(lambda n: r.randrange(n), features).program()


# ---- checking ------------------------------------------------------------------------------------
def fd_grad(f, args, k, eps):
    args = list(args)
    x = args[k]
    if np.ndim(x) == 0:
        return (f(*(args[:k] + [x + eps] + args[k + 1:])) - f(*(args[:k] + [x - eps] + args[k + 1:]))) / (2 * eps)
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        out[i] = (f(*(args[:k] + [xp] + args[k + 1:])) - f(*(args[:k] + [xm] + args[k + 1:]))) / (2 * eps)
    return out


class Skip(Exception):
    """No trustworthy finite-difference reference at any point tried."""


def check_program(mod, prog: Program, jit: bool, seed: int, points: int = 1, tries: int = 4, rtol=1e-4,
                  entry: str = "f"):
    """Compare srcdiff.grad(mod.<entry>, wrt=(0, 1, 2)) with central differences.

    Points where eps=1e-5 and eps=1e-6 differences disagree (a branch switch or kink nearby) are
    skipped; raises Skip if every point was skipped, AssertionError on a mismatch."""
    import srcdiff
    rng = np.random.default_rng(seed)
    f = getattr(mod, entry)
    g = srcdiff.grad(f, wrt=(0, 1, 2), jit=jit)
    checked = 0
    for _ in range(tries):
        if checked >= points:
            break
        args = prog.args(rng)
        with np.errstate(all="ignore"):
            v = f(*args)
        if not np.isfinite(v) or abs(v) > 1e6:
            continue
        refs = []
        smooth = True
        for k in range(3):
            with np.errstate(all="ignore"):
                f5, f6 = fd_grad(f, args, k, 1e-5), fd_grad(f, args, k, 1e-6)
            scale = max(1.0, float(np.max(np.abs(f5))))
            if not np.all(np.isfinite(f5)) or not np.allclose(f5, f6, rtol=1e-4, atol=1e-6 * scale):
                smooth = False
                break
            refs.append(f5)
        if not smooth:
            continue
        copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        got = g(*copies)
        for a, c in zip(args, copies):
            if isinstance(a, np.ndarray):
                np.testing.assert_array_equal(a, c, err_msg="grad modified its arguments")
        for k, (gk, ref) in enumerate(zip(got, refs)):
            assert np.shape(gk) == np.shape(ref), f"d/d{'xaM'[k]}: shape {np.shape(gk)} != {np.shape(ref)}"
            scale = max(1.0, float(np.max(np.abs(ref))))
            np.testing.assert_allclose(gk, ref, rtol=rtol, atol=1e-5 * scale,
                                       err_msg=f"d/d{'xaM'[k]} at x={args[0]!r}, a={args[1]!r}, M={args[2]!r}")
        checked += 1
    if not checked:
        raise Skip
    return checked
