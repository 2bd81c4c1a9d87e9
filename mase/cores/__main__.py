"""`python -m mase.cores`: print the path of the installed core library (for `fusesoc library add`)."""

import sys

from mase.errors import MaseError
from mase.cores import require_library

try:
    print(require_library())
except MaseError as exc:  # one line and exit 2, as the mase command does
    print(f"mase: error: {exc}", file=sys.stderr)
    raise SystemExit(exc.exit_code) from None
