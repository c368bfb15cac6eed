import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
# generated modules and Numba's cache go to a per-run directory unless the user chose one
os.environ.setdefault("SRCDIFF_CACHE_DIR", os.path.join(tempfile.gettempdir(), "srcdiff-test-cache"))
