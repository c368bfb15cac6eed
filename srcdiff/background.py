"""`jit="background"`: answer with the Python backend while Numba compiles in another process.

A transform made with ``jit="background"`` generates both backends' code on its first call for an
argument specialisation (generation is fast; compiling with Numba is what takes seconds). If Numba's
disk cache already holds the compiled code, it is loaded and used at once. Otherwise a child process
(``python -c "from srcdiff import background; background.child()"``) receives the generated module
(its file in the private cache directory, its text, the values bound into it) and the call's Numba
signature on a pipe, compiles the entry function with ``cache=True`` -- which writes the compiled code
into the disk cache -- and exits. Until then every call runs the generated Python code. The first call
after the child has finished loads the compiled code from the disk cache (never compiling in the
caller's process) and from then on calls run it.

If the child fails (a Numba error, a crash, a killed process) the transform keeps answering with the
Python backend and warns once (`BackgroundCompileWarning`, with the child's last error line). Values that
cannot be sent to a child (a bound function that does not pickle) are compiled in a thread of this
process instead. Nothing here ever waits for a compilation.
"""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
import warnings

from .arguments import bind_arguments
from .specialisations import FAST_MAX, types_key

MAX_CHILDREN = 2          # compiling processes at a time (more specialisations wait for a slot)


class BackgroundCompileWarning(UserWarning):
    """A background compilation failed: the transform keeps using the Python backend."""


class _NotCached(Exception):
    pass


def load_compiled(disp, args) -> bool:
    """Give dispatcher `disp` its compiled code for `args` from Numba's disk cache, without compiling:
    False when the cache does not hold it."""
    sig = tuple(disp.typeof_pyval(a) for a in args)
    if tuple(sig) in disp.overloads:
        return True
    compiler = disp._compiler

    class Refuse:                     # the compiler a cache miss would call: refuses instead
        def __getattr__(self, name):
            return getattr(compiler, name)

        def compile(self, *a, **k):
            raise _NotCached()
    disp._compiler = Refuse()
    try:
        disp.compile(sig)
        return True
    except _NotCached:
        return False
    finally:
        disp._compiler = compiler


class Job:
    """The compilation of one generated module's entry function for one signature."""

    def __init__(self, payload: dict, disp, sig):
        self.payload, self.disp, self.sig = payload, disp, sig
        self.proc = self.thread = None
        self.state = "waiting"        # waiting -> running -> done | failed
        self.error = ""

    def start(self) -> None:
        try:
            data = pickle.dumps(self.payload)
        except Exception as exc:      # noqa: BLE001 -- a bound value that cannot be sent: compile here instead
            self.thread = threading.Thread(target=self._compile_here, name="srcdiff-background-compile",
                                           daemon=True)
            self.error = f"(compiling in a thread: {type(exc).__name__}: {exc})"
            self.state = "running"
            self.thread.start()
            return
        env = dict(os.environ, SRCDIFF_CACHE_DIR=self.payload["cache_dir"])
        self.proc = subprocess.Popen([sys.executable, "-c", "from srcdiff import background; background.child()"],
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     env=env)
        self.state = "running"
        threading.Thread(target=self._feed, args=(data,), daemon=True).start()

    def _feed(self, data: bytes) -> None:
        """Send the payload and collect the child's errors without blocking the caller."""
        try:
            _, err = self.proc.communicate(data)
            self.error = err.decode(errors="replace")
        except Exception as exc:      # noqa: BLE001
            self.error = f"{type(exc).__name__}: {exc}"

    def _compile_here(self) -> None:
        try:
            self.disp.compile(self.sig)
            self.state = "done"
        except Exception as exc:      # noqa: BLE001 -- reported by poll()
            self.error = f"{type(exc).__name__}: {exc}"
            self.state = "failed"

    def poll(self) -> str:
        if self.state == "running" and self.proc is not None:
            code = self.proc.poll()
            if code is not None:
                self.state = "done" if code == 0 else "failed"
                if code != 0 and not self.error:
                    self.error = f"exit status {code}"
        return self.state


_QUEUE: list = []
_LOCK = threading.Lock()


def submit(payload: dict, disp, sig) -> Job:
    job = Job(payload, disp, sig)
    with _LOCK:
        _QUEUE.append(job)
    _schedule()
    return job


def _schedule() -> None:
    with _LOCK:
        running = [j for j in _QUEUE if j.state == "running" and j.poll() == "running"]
        for job in _QUEUE:
            if job.state == "waiting" and len(running) < MAX_CHILDREN:
                job.start()
                running.append(job)
        _QUEUE[:] = [j for j in _QUEUE if j.state in ("waiting", "running")]


def last_error_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "no error output"


class Background:
    """The per-transform state of ``jit="background"``: which specialisations run compiled, which wait."""

    def __init__(self, answering: str = "the Python backend (jit=False)"):
        self.answering = answering      # what answers until the compiled code is ready, and where it fails
        self.ready: set = set()
        self.python: set = set()     # failed: the Python backend for good
        self.jobs: dict = {}

    def use_compiled(self, key, disp, args, module, generated, bindings, entry) -> bool:
        """Whether this call of specialisation `key` may run the compiled `disp` (its code loaded from the
        disk cache); starts the background compilation on the first call that finds none. `module`: the
        loaded generated module, executed from `generated` (srcdiff.generated.Generated: its source and the
        facts of its functions), with `bindings`."""
        if hasattr(disp, "compiled") and hasattr(disp, "arrays"):   # backends.ArraysPassed: large arrays appended
            disp, args = disp.compiled, tuple(args) + tuple(disp.arrays)
        if key in self.ready:
            return True
        if key in self.python:
            return False
        job = self.jobs.get(key)
        if job is None:
            if load_compiled(disp, args):
                self.ready.add(key)
                return True
            from . import backends
            sig = tuple(disp.typeof_pyval(a) for a in args)
            payload = {"path": module.__file__, "modname": module.__name__, "generated": generated,
                       "bindings": bindings, "entry": entry, "sig": sig,
                       "cache_dir": backends.cache_dir()}
            self.jobs[key] = submit(payload, disp, sig)
            return False
        _schedule()
        state = job.poll()
        if state in ("waiting", "running"):
            return False
        del self.jobs[key]
        if state == "done" and load_compiled(disp, args):
            self.ready.add(key)
            return True
        self.python.add(key)
        warnings.warn(f"srcdiff: compiling {entry} in the background failed "
                      f"({last_error_line(job.error) if state == 'failed' else 'the compiled code was not in the cache'}); "
                      f"it keeps running with {self.answering}", BackgroundCompileWarning, stacklevel=4)
        return False


class BackgroundCalls:
    """The ``jit="background"`` calls of api.Transformed: a jitted and a Python transform of the same function,
    and the switch-over state (`Background`) that says which answers."""

    def background_pair(self):
        """jit="background": (the jitted transform, the Python one, their switch-over state); jit="parallel":
        (the transform with row chunks on threads, the jit=True one, their state)."""
        if "_pair" not in self.__dict__:
            k, threads = self.__dict__.get("checkpoints"), self.__dict__.get("threads", False)
            jitted, python = type(self)(self.f, self.wrt_names, self.mode, True, k), \
                type(self)(self.f, self.wrt_names, self.mode, threads, k)   # (jit="parallel": jit=True answers)
            jitted.threads = threads    # (its generated code: the row chunks' loop on threads)
            jitted.many = python.many = self.many
            jitted.compiles_alone = True    # (the child compiles the module of `jitted`'s own source)
            self._pair = (jitted, python, Background("jit=True's code" if threads else "the Python backend (jit=False)"))
        return self._pair

    def call_background(self, args, kwargs):
        """Run the compiled code when it is ready (see srcdiff/background.py), else the Python backend."""
        from . import backends
        jitted, python, state = self.background_pair()
        bound = bind_arguments(jitted, args, kwargs, trailing=1 if self.mode == "vjp" else 0)
        nargs = len(bound) - (1 if self.mode == "vjp" else 0)
        fn, flat, _ = jitted._specialize(bound, nargs)
        mod, made = jitted._last.module, jitted._last.generated
        key = next(k for k, v in jitted._cache.items() if v is jitted._last)
        module = backends.shown_module(fn)
        if state.use_compiled(key, fn, flat, module, made, mod.bindings, mod.entry):
            self._last = jitted._last
            out = jitted(*args, **kwargs)
            self.adopt(jitted, args, kwargs)   # switched over for good: later calls go straight to it
            return out
        out = python(*args, **kwargs)
        self._last = python._last
        if key in state.python:     # the compilation failed: the Python backend answers from now on
            self.adopt(python, args, kwargs)
        return out

    def adopt(self, backend, args, kwargs):
        """jit="background": calls with arguments like these run `backend`'s function from now on (what it
        remembered for them), without asking the switch-over state again."""
        known = None if kwargs else backend._fast.get(types_key(args))
        if known is not None:
            if len(self._fast) >= FAST_MAX:
                self._fast.clear()
            self._fast[types_key(args)] = known


def child() -> None:
    """The compiling process: reads a payload from stdin, compiles, writes the disk cache, exits."""
    payload = pickle.loads(sys.stdin.buffer.read())
    from . import backends
    mod = backends.instantiate(payload["modname"], payload["path"], payload["generated"], payload["bindings"], True)
    fn = mod.__dict__[payload["entry"]]
    getattr(fn, "compiled", fn).compile(payload["sig"])     # backends.ArraysPassed: the dispatcher it calls
