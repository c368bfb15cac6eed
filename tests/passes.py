"""Run the compiler's passes (up to SSA, without inlining) up to one pass and show the tree as source: for
the per-pass tests (test_closures, test_desugar, test_canonicalize, test_controlflow, test_anf, test_ssa,
test_optimize), and reverse mode's result (test_reverse_storage, test_reverse_backward)."""
import gast

from srcdiff.transforms import (anf, canonicalize, closures, controlflow, desugar, emit, factories, function_args,
                               parse, resolve, ssa)

FRONT_END = [("function arguments", function_args.specialise_function_arguments),
             ("factories", factories.bind_factories), ("closures", closures.lift_local_functions),
             ("desugar", desugar.desugar), ("resolve", resolve.resolve),
             ("canonicalize", canonicalize.canonicalize), ("structure", controlflow.structure), ("anf", anf.to_anf),
             ("ssa", ssa.to_ssa)]


def through(fn, last: str) -> parse.Unit:
    """`fn` parsed and run through the front-end passes up to and including `last`."""
    unit = parse.parse(fn)
    for name, run in FRONT_END:
        unit = run(unit)
        if name == last:
            return unit
    raise ValueError(f"no front-end pass {last!r}")


def body_source(node) -> str:
    """The statements of a function (or a list of statements) as source, one per line, comments left out."""
    stmts = node.body if isinstance(node, gast.FunctionDef) else node
    fn = gast.FunctionDef(name="f", args=gast.arguments(args=[], posonlyargs=[], vararg=None, kwonlyargs=[],
                                                       kw_defaults=[], kwarg=None, defaults=[]),
                          body=list(stmts), decorator_list=[], returns=None, type_comment=None, type_params=[])
    lines = emit.to_source(fn).splitlines()[1:]
    return "\n".join(line[4:] for line in lines if not line.strip().startswith("#"))


def parse_function(src: str) -> gast.FunctionDef:
    return gast.parse(src).body[0]


def reverse_sweeps(fn, wrt: list, arg_kinds: dict):
    """reverse.Sweeps of `fn` (grad with respect to the parameters `wrt`, argument kinds by name), built by the
    compiler's own passes up to and including reverse mode: for test_reverse_storage and test_reverse_backward."""
    from srcdiff import compiler
    unit = compiler.middle_end(compiler.front_end(fn))
    ctx = compiler.Context(unit=unit, wrt=wrt, mode="grad", name=f"{fn.__name__}_grad", callee_derivative=None,
                           arg_kinds=arg_kinds)
    stop = [p.name for p in compiler.REVERSE].index("reverse")
    return compiler.run(compiler.REVERSE[:stop + 1], ctx).sweeps
