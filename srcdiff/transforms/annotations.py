"""The facts passes attach to tree nodes, declared in one place.

A pass that learns something a later pass needs (this assignment is an SSA merge, this loop's trip
count lives in that variable, this statement came from that file) writes it on the node under one
of the keys below, and the later pass reads it through `get`/`has`. Nothing else travels between
passes on the tree. Each key says which pass writes it and which passes read it; a new fact is a new
key here, with its docstring, never a bare attribute.

    from . import annotations as anno
    anno.set(stmt, anno.PHI)            # a flag (value True)
    if anno.get(stmt, anno.PHI): ...
    anno.set(loop, anno.ITERS, "iterations")
    anno.copy(old, new, (anno.FILE, anno.PHI))

A fact is stored as an attribute of the node, so `copy.deepcopy` of a tree keeps it (as passes rely on);
a node built fresh carries none until a pass copies them over (`copy`).
"""
from __future__ import annotations

KEYS: dict = {}   # key -> its description (writer, readers, value)
_PREFIX = "_srcdiff_"


def _key(name: str, doc: str) -> str:
    key = _PREFIX + name
    KEYS[key] = doc
    return key


# ---- where a statement came from --------------------------------------------------------------------
FILE = _key("file", """str: the source file of a statement inlined from another function.
    Written by inline (inline_calls); copied by tuples; read by aliasing, reverse, compiler (error
    messages and the `# line` comments of the generated sweeps).""")
FUNC = _key("func", """str: the name of the function a statement was inlined from.
    Written by inline; read by reverse (error messages).""")
USER_NAME = _key("user_name", """str: on a FunctionDef that function_args made, the name the user wrote: the callee's
    (`step` for its copy `step_osc` calling the function passed) or "lambda" (for the def of a lambda passed).
    Written by function_args; read by inline, which names the function a statement came from (FUNC) by it.""")

USER_LINE = _key("user_line", """(line, text, func, file): on a `# line N: text` comment statement, the user's line
    it cites (int), that line's text ('' where it cannot be read), for a statement inlined from a callee the
    callee's name (None for the function's own lines), and the file of that line. Written where the line
    comments are made: reverse (line_comment) and forward (block); kept by emit.tree on the standard-library
    tree; read by optimize.deadcode (a line comment left with no statements under it), the CUDA lowering (the
    comment lines it re-emits, the user's line of a statement it declines) and emit.render (the line table
    of the generated module: generated.Lines, which error reports read).""")
SWEEP = _key("sweep", """"forward" or "backward": on reverse mode's `# forward sweep` / `# backward sweep` comment, the
    statements of the function below it (up to the next) compute f's values / its adjoint. Written by reverse
    (Reverse.assemble); kept by emit.tree; read by emit.render (generated.Lines: an error report says whether
    the line's derivative failed) and optimize.deadcode (a forward sweep heading with nothing under it goes).""")
LINES = _key("lines", """((line, user_line, sweep), ...): on the standard-library tree of a generated function that
    emit.render printed, its comment lines carrying USER_LINE or SWEEP, numbered from 1 in the text printed.
    Written by emit.render; read by module_builder.Module.generate (generated.Lines.of: the module's line table).""")
PLACEHOLDER_LINES = _key("placeholder_lines", """((line, what), ...): on the standard-library tree of a generated
    function that emit.render printed, the lines of its assignments carrying PLACEHOLDER (what: "placeholder") or,
    with an array's zeros for value, SUM_EMPTY ("empty"), numbered from 1 in the text printed. Written by
    emit.render; read by module_builder.Module.generate (generated.Lines.placeholders: srcdiff.hvp differentiates
    the gradient's text, and compiler's "generated" pass puts the two annotations back on those lines' statements,
    for the CUDA lowering).""")
COPY_OF = _key("copy_of", """str: on a FunctionDef that module_builder.primal_name copied from a function it calls (the
    primal a derivative calls, printed without line comments), the file its statements' linenos number. Written by
    primal_name; read by module_builder.Module.generate (generated.copied_lines, from PRINTED_AT: the line table
    cites each of the copy's statements at its line of that file, so that an error in the copy, or in code forward mode made from it
    (srcdiff.hvp differentiates the gradient's text), is reported at the user's line).""")
PRINTED_AT = _key("printed_at", """((line, lineno), ...): on the standard-library tree of a generated function that
    emit.render printed (source_text.function_text), the line each statement starts at, numbered from 1 in the text
    printed, and the statement's lineno. Written by source_text.function_text; read by module_builder.Module.generate
    for a function copied from the user's (COPY_OF: generated.copied_lines).""")
TEXT = _key("text", """(lines, {id(statement): (statement, depth, first line, end line, first cited, end cited)},
    cited): on the standard-library tree of a generated function emit.render printed keeping its text (the source
    shown of a jitted module), the lines it printed, where each statement's lines are among them and its comment
    lines citing a user's line or a sweep (as LINES). Written by emit.render (source_text.function_text); read by
    emit.render printing the compiled form, which takes the lines of the statements it shares with that tree.""")

# ---- desugar's facts ----------------------------------------------------------------------------------
DICT_KEYS = _key("dict_keys", """tuple of str: on the tuple literal of a dict argument's items that flatten passes to a
    function of the user's (`forward(params, x)`), the dict's keys, in the order of the items. Written by flatten; kept
    by anf (the tuple's name); read by inline (_structure: the callee's parameter is a dict, read by key).""")
TUPLE_FIELDS = _key("tuple_fields", """(tuple of str, class or None): on the tuple literal of a namedtuple's items that
    flatten passes to a function of the user's, its field names (`p.W` reads the item at the position of "W") and its
    class (whose methods `p.apply(x)` calls). Written by flatten; kept by anf; read by inline (_structure: the callee's
    parameter is a namedtuple, read by field).""")
LEAF_NAMES = _key("leaf_names", """{str: str}: on a FunctionDef whose structured arguments flatten gave a parameter
    per leaf (and its dicts made from them, `q = dict(params)`), each leaf's name as the user spells it (`q_0` ->
    `q["W"]`). Written by flatten; read by aliasing (the names of its declines).""")
RECORDS_BOUND = _key("records_bound", """frozenset of str: on a FunctionDef flatten made, its namedtuple parameters
    that it binds again, each time to a namedtuple made there (`s = s._replace(W=e)`, `s = Cls(a, b)`:
    record_forms.records_bound_again), whose field variables it binds anew: a binding of the name, never a write into
    an item of a structure the caller passed. Written by flatten; read by inline (_decline_item_writes passes a
    callee's bindings of such a parameter's fields).""")
IN_PLACE = _key("in_place", """True on `a = a + v` made from the user's `a += v` (NumPy adds into a's memory).
    Written by desugar; copied by anf; read by aliasing (check_views).""")
READ_ONLY = _key("read_only", """True on the `rt.zeros_like(x)` call resolve wrote for the user's `x.imag`, and canonicalize
    for `np.imag(x)`: NumPy's imaginary part of a real array is a read-only array, which a write into raises ValueError.
    Written by resolve and canonicalize; copied by anf; read by anf (`x.imag[i] = v`) and kind_rewrites
    (decline_writes_into_imag).""")
SPLIT_PART = _key("split_part", """(call, k, text): on the slice that is part k of one call of np.split / np.array_split
    (the call's number, unique in the process; the call's text as the user wrote it, or None): the parts of one call share
    no memory, whatever their bounds are. Written by canonicalize; copied by anf and emit (onto the standard-library
    tree); read by aliasing (a write into one part leaves the others as they were) and the CUDA lowering (a decline of
    a part quotes the user's call, not the slice srcdiff wrote).""")
COPY_MODULE = _key("copy_module", """"copy.copy" or "copy.deepcopy": on the call resolve wrote as `np.copy(e)` of the
    user's `copy.copy(e)` (a copy is the identity for derivatives, of an array or a number). Written by resolve;
    copied by anf; read by kind_rewrites (array_literal_operands), which declines it of a tuple or list, where np.copy would make
    one array of the items Python's copy keeps apart.""")
LOOP_COPY = _key("loop_copy", """str: on `seq = <iterable>` that desugar wrote for a `for` loop over an array,
    the iterable the user's loop walks as the user spells it (`xs`, `P[1]`).
    Written by desugar; copied by anf; read by aliasing (check_views' message).""")
SUM_TERM = _key("sum_term", """True on the accumulating assignment `total = total + term` of a sum over a
    comprehension. Written by desugar (hoist_sums); read by compiler (sum starts by kinds).""")
SUM_START = _key("sum_start", """gast.Assign: on a SUM_TERM statement, the assignment of the sum's start.
    Written by desugar (hoist_sums); read by compiler.""")
SUM_EMPTY = _key("sum_empty", """True on `total = 0.0`, the value of a sum over a comprehension whose loops run no iteration
    (the `else` of its start's `if`). It tells nothing of the sum's kind (an array sum carried around a loop would
    be a scalar-or-array, of unknown kind, and so would the first term it is made from): kinds.infer leaves it out
    while the terms decide the kind, and kind_rewrites.sum_starts makes it zeros of their rank.
    Written by desugar (hoist_sums); copied by anf; read by kinds and unbound; kept by emit.tree; read by the CUDA
    lowering (an array sum has its terms' shape there: the kernel reports an example whose loops run none).""")
MADE = _key("made", """True on the `rt.zeros_like(first term)` call desugar wrote as a sum's start, and on the
    `rt.copy(p_0)` of each leaf of a deep copy of a dict argument flatten wrote (`copy.deepcopy(params)`).
    Written by desugar and flatten; read by resolve (leaves the rt. name as it is) and desugar.zero_sum_starts.""")

# ---- control flow and SSA ----------------------------------------------------------------------------
INCR = _key("incr", """True on the counter increment of the while loop controlflow made of a `for` loop
    with a `break`. Written and read by controlflow.""")
PHI = _key("phi", """True on the copy at the end of a loop body that carries a loop variable's last version
    into the next iteration. Written by ssa; copied by tuples; read by aliasing, reverse, forward,
    checkpoints, optimize (copies, cse, fusion).""")
MERGE = _key("merge", """True on the copies at the end of both branches of an `if` that merge a variable's
    versions. Written by ssa; copied by tuples; read by aliasing, reverse, forward, compiler.""")
TESTCOPY = _key("testcopy", """True on the MERGE copy of an `if`'s test (kept, not a branch merge).
    Written by ssa; read by reverse.""")
MAYBE_UNDEFINED = _key("maybe_undefined", """set of str, on the FunctionDef: names that may be unbound
    where they are read (assigned on one path only). Written by ssa; read by reverse.""")
SSA_VERSIONS = _key("ssa_versions", """dict, on the FunctionDef: the name of each later definition of a variable, and of
    each merge of its definitions -> the variable's name (`t_tape3` -> `t_tape`). Written by ssa; read by
    module_builder (the versions of a generated gradient's tapes, which forward mode over it defines again, are
    tapes too: the CUDA lowering's).""")
PLACEHOLDER = _key("placeholder", """True on `v = <a value of v's kind>` (0.0, zeros of v's rank, ...) that unbound
    wrote: a value for a name read where it may be unassigned (define_unbound), or the type given to a `v = None` of
    differentiated generated code. No path uses the value it binds (a merge copy may copy it along), so its shape
    need not be v's: `np.zeros((1,))` stands for an array of any length. Written by unbound, and on generated code
    differentiated again (srcdiff.hvp) by compiler's "generated" pass, from the lines the module's line table
    notes (generated.Lines.placeholders; SUM_EMPTY likewise); copied by anf; kept by emit.tree on the
    standard-library tree (whose lines emit.render notes: PLACEHOLDER_LINES); read by the CUDA lowering (an array's placeholder takes the shape of the name's
    real binding, where an array cannot change shape).""")
RETURNED_TUPLE = _key("returned_tuple", """True on the assignment that builds the tuple a function returns.
    Written by tuples; read by reverse.""")

# ---- reverse mode and checkpointing ---------------------------------------------------------------------
OLD = _key("old", """str: on `a[i] = v`, the name of the copy of the element it overwrites (restored by the
    backward sweep). Written by reverse; read by reverse, checkpoints.""")
ITERS = _key("iters", """str: on a while loop, the name counting its iterations (the backward sweep runs
    that many). Written by reverse and checkpoints; read by reverse, checkpoints.""")
COUNT = _key("count", """True on the increment of an ITERS counter. Written by reverse; read by reverse,
    checkpoints (a rerun segment leaves it out).""")
SAVE = _key("save", """bool: on the `v_old = rt.copy(a[i])` of an OLD write, True while it is needed only by
    the backward sweep. Written by reverse (True) and checkpoints (False); read by checkpoints.""")
CHECKPOINT = _key("checkpoint", """the checkpoints plan (or None) of a forward-sweep loop.
    Written by reverse; read by checkpoints.""")
UNDO = _key("undo", """str: on a write that a checkpointed segment undoes, its OLD name.
    Written and read by checkpoints.""")
RERUN = _key("rerun", """the segment variable of the loop that reruns a checkpointed segment forward (its body a
    `pass` until rerun_segments fills it in). Written and read by checkpoints; read by optimize.deadcode
    (keeps the placeholder, which stands for the rerun's writes into the segment tapes and the undo loop's
    reads).""")
SEGMENTS = _key("segments", """the checkpoints plan, on the loop over a checkpointed loop's segments.
    Written by checkpoints; read by checkpoints, stacks (one row tape serves all segments) and
    optimize.deadcode (the plan's tapes, by the segment variable a RERUN placeholder names).""")
STACK_KINDS = _key("stack_kinds", """dict, on the FunctionDef: stack name -> stacks.Stack (the kinds of the values
    pushed onto it, and the primal value it holds, which names its row tape).
    Written by stacks.record_stack_kinds (the compiler calls it); read by stacks.row_tapes.""")

DEFAULT_OF = _key("default_of", """(function, parameter, line): on `g_w = buf` that closures makes of the default of a
    nested function's parameter (`def g(v, w=buf)` at `line`), evaluated where the def runs, which the calls pass.
    Written by closures (lift); copied by anf; read by aliasing (its declines name the user's parameter, not g_w).""")
FACTORY_ARGUMENT = _key("factory_argument", """(function, factory, parameter, line): on `g_c = c` that factories
    makes of the argument `c` of `g = make(c)` at `line` (make's parameter `parameter`), which each call of `g` passes.
    Written by factories (bind); copied by anf; read by aliasing (its declines name the function and the factory, not
    g_c).""")
RETURN_VALUE = _key("return_value", """True on `result = value` that controlflow makes of the user's `return value` (inside a
    loop, or in a branch): no statement of that function runs after it on its path, so no in-place write can
    change the memory it binds before the function returns it. Written by controlflow; copied by anf; read by
    aliasing (a write on the paths that did not return does not make the result stale).""")

PROCEDURE = _key("procedure", """True on the FunctionDef of a user function that returns no value on any path (it is
    called for its effect: `bump(buf, i, v)` writes into buf): the front end gave it a final `return None`.
    Written by controlflow.structure; read by module_builder (such a function is inlined where its caller
    calls it; differentiated on its own, or staying a call, it is declined: there is no value to differentiate).""")

SCALARS = _key("scalars", """frozenset, on the FunctionDef of a reverse-mode derivative: the names whose kind is a scalar
    (its Sweeps' kinds). Written by the compiler's dead code pass; read by optimize.owned: `v = buf[i]` of such a v
    is an element, no view of buf, so a tape of v does not keep buf out of sight.""")
PURE_CALLEES = _key("pure_callees", """frozenset, on the FunctionDef of a derivative: the names of the user functions it
    calls that stay calls (recursive ones) and have no effect but their result (purity.effect_free_functions).
    Written by the compiler's dead code pass (from Context.pure_callees); read by optimize.deadcode, in that
    pass and in the later ones that drop what stopped being read (eliminate_unread).""")

RECURSIVE = _key("recursive", """frozenset, on the FunctionDef of an SSA unit reverse mode differentiates: which of the
    unit's own name and its callees' local names are recursive functions (calling themselves, directly or through
    others); a callee that stays a call and is not among them stays one for being nested four calls deep (or too
    large to inline). Written by module_builder (_derivative); read by reverse_backward's message for a
    function that stays a call returning a tuple.""")

ROW_FACTS = _key("row_facts", """(kinds, shape classes), on the FunctionDef of a reverse-mode function: what its
    names hold, for the jitted source's row fusion. Written by optimize.rowfusion.record_row_facts (the
    compiler calls it); read by optimize.rowfusion.fuse_rows.""")

FOLDED_FROM = _key("folded_from", """ast.expr: on a constant the CUDA lowering folded into its copy of a generated function
    (a per-example shape, `x.shape[0]` -> 3, `n` of `n = x.shape` -> (3, 4); integer arithmetic of constants,
    `3 - 1` -> 2), the expression it stands for (whose parts may carry this fact in turn). Written by cuda/host.py
    (fold_shapes); read by cuda/spelling.py (shown, quoted: a message quotes the user's `a[a.shape[0] - 1]`, not
    `a[2]`).""")
KEEPDIMS = _key("keepdims", """True on the `rt.expand_dims(r, axis)` canonicalize wrote for a reduction's keepdims=True (r the
    reduction `rt.<op>(x, axis)`): NumPy keeps a 0-d x's shape there (`np.sum(x, axis=0, keepdims=True)` of a 0-d x
    is 0-d, where `np.expand_dims` of a number has shape (1,)). Written by canonicalize (_axis_reduction), kept by anf; read by
    kind_rewrites.scalar_items, which drops the call where the kinds say x is 0-d or a number.""")
IN_RANGE = _key("in_range", """True on a subscript whose index is in range by construction: a row-blocked loop's buffer
    or view read at a row of its block, a chunk's row of partial results (runs on threads: a test inside it
    would raise where a thread cannot; the loop's own test is written before it). Written by rowblocks
    (in_chunks); read by bounds (subscripts: no test).""")
BOUNDS_PROVED = _key("bounds_proved", """True on a FunctionDef of jitted code whose every index the bounds pass proved in
    range given the tests it wrote in (its first line, a comment, says so to the reader). Written by
    bounds.hoist_checks; read by compiler (Module.generate: generated.FunctionFacts.bounds_proved, which
    srcdiff.backends compiles without Numba's per-access checks).""")


def get(node, key: str, default=None):
    """The fact `key` on `node`, `default` when it has none."""
    if key in KEYS:     # (_declared's test, inline: the passes ask hundreds of thousands of times)
        return getattr(node, key, default)
    return getattr(node, _declared(key), default)


def has(node, key: str) -> bool:
    if key in KEYS:
        return hasattr(node, key)
    return hasattr(node, _declared(key))


def set(node, key: str, value=True):   # noqa: A001 (anno.set reads as what it does)
    """Note `value` (a flag: True) on `node` under `key`; returns `node`."""
    setattr(node, _declared(key), value)
    return node


def copy(src, dst, keys):
    """The facts `keys` of `src` onto `dst` (those `src` has); returns `dst`."""
    for key in keys:
        if hasattr(src, _declared(key)):
            setattr(dst, key, getattr(src, key))
    return dst


def _declared(key: str) -> str:
    if key not in KEYS:
        raise KeyError(f"undeclared annotation key {key!r}: declare it in srcdiff/transforms/annotations.py")
    return key
