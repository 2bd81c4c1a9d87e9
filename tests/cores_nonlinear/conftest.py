import shutil

import pytest

if shutil.which("verilator") is None or shutil.which("yosys") is None:
    pytest.skip("Verilator and Yosys are needed for the core tests (scripts/setup.sh installs them)",
                allow_module_level=True)
