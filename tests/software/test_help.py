import subprocess
import sys


def test_help_shows_usage_examples_stages_and_groups():
    out = subprocess.run([sys.executable, "-m", "mase.cli", "--help"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    for text in ("Usage:", "Examples:", "Stages", "quant: ", "smollm2-135m", "mxint4"):
        assert text in out.stdout
