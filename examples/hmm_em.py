"""Train a categorical HMM on character sequences with EM whose E-step is a gradient.

The forward recursion ``srcdiff.vi.hmm.log_Z`` is ordinary NumPy.  srcdiff
differentiates it; because an HMM is an exponential family, the gradient of
the log-partition with respect to (log_pi, log_A, log_B) is exactly the set of
expected sufficient statistics (first state, transition counts, emission
counts) -- the E-step of Baum-Welch, with no hand-written backward pass.

Usage::

    python examples/hmm_em.py [--states 6] [--iters 40] [--out hmm_em_loglik.png]

Text: every ``examples/data/*.txt`` file, lowercased, reduced to the letters
a-z and space, one sequence per sentence.
"""
import argparse
import glob
import os
import re
import time

import numpy as np

from srcdiff.vi import hmm

ALPHABET = " abcdefghijklmnopqrstuvwxyz"
INDEX = {c: i for i, c in enumerate(ALPHABET)}


def load_sentences(data_dir):
    paths = sorted(glob.glob(os.path.join(data_dir, "*.txt")))
    if not paths:
        raise SystemExit(f"no .txt files in {data_dir}")
    text = " ".join(open(p, encoding="utf-8").read() for p in paths)
    sequences = []
    for sentence in re.split(r"[.!?\n]+", text.lower()):
        sentence = re.sub(r"[^a-z ]+", " ", sentence)
        sentence = re.sub(r" +", " ", sentence).strip()
        if len(sentence) >= 2:
            sequences.append(np.array([INDEX[c] for c in sentence], dtype=np.int64))
    return sequences


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.path.join(here, "data"))
    parser.add_argument("--states", type=int, default=6)
    parser.add_argument("--iters", type=int, default=40)
    parser.add_argument("--tol", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top", type=int, default=6, help="characters shown per state")
    parser.add_argument("--out", default="hmm_em_loglik.png")
    args = parser.parse_args()

    sequences = load_sentences(args.data)
    n_chars = sum(len(s) for s in sequences)
    print(f"{len(sequences)} sentences, {n_chars} characters, "
          f"{args.states} states, {len(ALPHABET)} symbols")

    start = time.perf_counter()

    def report(iteration, loglik, params):
        print(f"iter {iteration:3d}  log-likelihood {loglik:12.3f}  "
              f"per char {loglik / n_chars:8.4f}  ({time.perf_counter() - start:6.1f} s)",
              flush=True)

    result = hmm.fit_em(sequences, args.states, len(ALPHABET), n_iter=args.iters,
                        tol=args.tol, seed=args.seed, callback=report)
    print(f"{'converged' if result.converged else 'stopped'} after {result.n_iter} iterations")

    B = result.emissionprob
    occupancy = np.zeros(args.states)
    for seq in sequences:
        occupancy += hmm.posterior_marginals(result.natural_params, seq).sum(axis=0)
    print("\nstate  share  top characters (probability)")
    for k in np.argsort(-occupancy):
        top = np.argsort(-B[k])[:args.top]
        chars = "  ".join(f"{ALPHABET[v]!r}:{B[k, v]:.2f}" for v in top)
        print(f"{k:5d}  {occupancy[k] / n_chars:5.2f}  {chars}")

    print("\ntransition matrix (rows: from, columns: to)")
    with np.printoptions(precision=2, suppress=True):
        print(result.transmat)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(np.arange(len(result.loglik_trace)), result.loglik_trace / n_chars, marker="o", ms=3)
    ax.set_xlabel("EM iteration")
    ax.set_ylabel("log-likelihood per character")
    ax.set_title(f"Categorical HMM, {args.states} states (E-step = grad log Z)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"\nsaved {args.out}")


if __name__ == "__main__":
    main()
