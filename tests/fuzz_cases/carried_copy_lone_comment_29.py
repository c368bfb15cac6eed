# N=4 params=x,a,M,n,flag n=1 seq=list checkpoints=1
# backends: py
# fuzz seed 29 (minimised): optimize.coalesce_carried dropped the loop's carried copies (`x = x1`) that sat under the comment of the body's last line, whose own statement is dead (`b16 = not DEBUG`): the comment stayed with no code under it
import math

import numpy as np

DEBUG = True


def f(x, a, M, n, flag):
    for j14, e15 in zip(range(1), a):
        e15, x = x, e15
        b16 = not DEBUG
    return np.sum(a * 0.5) + math.cos(x)
