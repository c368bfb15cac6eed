"""Variational inference on the smallest interesting model (runs in seconds).

    temp   ~ N(15, 2^2)          prior belief about today's temperature
    sensor ~ N(temp, 1^2)        a noisy thermometer; it reads 18

The posterior is Gaussian: precision 1/4 + 1 = 1.25, mean (15/4 + 18) / 1.25 = 17.4,
std sqrt(1/1.25) = 0.894.  A mean-field Gaussian q fitted by srcdiff's generated
ELBO gradient (reparameterisation estimator, Adam) should recover it.

    python examples/vi_temperature.py [plot.png]   (default: vi_temperature_elbo.png in the working directory)
"""
import math
import os
import sys

import numpy as np

import srcdiff
from srcdiff import vi

SENSOR = 18.0


def log_joint(z):
    temp = z[0]
    return vi.normal_logpdf(temp, 15.0, 2.0) + vi.normal_logpdf(SENSOR, temp, 1.0)


def main(steps=3000, plot=True, out=None):
    q = vi.MeanFieldNormal(1)
    res = vi.fit(log_joint, q, steps=steps, num_samples=4, lr=0.05, seed=0)
    prec = 1 / 2.0**2 + 1 / 1.0**2
    exact_mean, exact_std = (15.0 / 4.0 + SENSOR / 1.0) / prec, math.sqrt(1 / prec)
    print(f"posterior mean: VI {res.mean[0]:.3f}   exact {exact_mean:.3f}")
    print(f"posterior std : VI {res.std[0]:.3f}   exact {exact_std:.3f}")
    print(f"final ELBO ~ {res.final_elbo():.3f}   exact log evidence "
          f"{vi.normal_logpdf(SENSOR, 15.0, math.sqrt(5.0)):.3f}   ({res.seconds:.2f}s for {steps} steps)")
    print("\nThe ELBO srcdiff differentiated:\n" + res.elbo_grad.elbo_source)
    if plot:
        path = res.plot(os.path.abspath(out or "vi_temperature_elbo.png"))
        print("ELBO trace saved to", path)
    return res


if __name__ == "__main__":
    res = main(out=sys.argv[1] if len(sys.argv) > 1 else None)
    if os.environ.get("SHOW_SOURCE"):
        print(srcdiff.source(res.elbo_grad))
