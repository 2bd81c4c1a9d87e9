"""FuseSoC generator mase_accel (see generators.core): a thin entry; the work is in mase.eda.generator."""

import sys

try:
    from mase.eda.generator import main
except ImportError:
    print(f"mase_accel: error: {sys.executable} cannot import mase: run FuseSoC from the environment mase is "
          "installed in (the generator runs the python3 on PATH)", file=sys.stderr)
    raise SystemExit(2) from None

main(sys.argv[1:])
