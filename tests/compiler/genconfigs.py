"""Random tiny architectures x formats x block sizes x prompt lengths, from a seed (issue 10).

Each generated configuration must either compile whole and simulate bit-exact against the golden
model, or be refused with one line before any work. Used by tests/compiler/test_generated_configs.py
(a few dozen) and benchmarks/bench_generated_configs.py (as many as asked, with a summary table).
`decode=True` checks the KV-cache decode design instead (issue 12): the generate stage's greedy
tokens after the prompt, bit-exact and equal to the golden model's.
"""

from __future__ import annotations

import random
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

FORMATS = ("mxint4", "mxint8", "mxint6", "mxfp4", "mxfp6", "mxfp8", "mxint4w8a", "fixed8")
STAGES = ["quantize", "emit", "lint", "sim"]


@dataclass
class GenConfig:
    seed: int
    family: str
    overrides: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.seed}:{self.family}:" + ",".join(o.split(".")[-1] for o in self.overrides)


def generate(seed: int) -> GenConfig:
    """One configuration, a pure function of `seed`."""
    r = random.Random(seed)
    family = r.choice(("llama", "llama", "opt"))
    heads = r.choice((1, 2, 4))
    head_dim = r.choice((4, 8, 16, 16, 32, 64, 128) if heads == 1 else (4, 8, 16, 16, 32))
    ov = [f"+model=tiny-{family}", f"model.tiny.num_heads={heads}", f"model.tiny.num_layers={r.choice((1, 1, 2))}",
          f"model.tiny.intermediate_size={r.choice((32, 64, 96, 100, 128))}"]
    if family == "llama":
        kv = r.choice([k for k in (1, 2, 4) if heads % k == 0])
        hidden = r.choice((32, 48, 64, 80, 96)) if r.random() < 0.4 else heads * head_dim
        ov += [f"model.tiny.num_kv_heads={kv}", f"model.tiny.head_dim={head_dim}", f"model.tiny.hidden_size={hidden}",
               f"model.tiny.rope_theta={r.choice((10000.0, 500000.0, 1000000.0, 12345.5))}",
               f"model.tiny.attention_bias={r.random() < 0.3}", f"model.tiny.mlp_bias={r.random() < 0.2}"]
        if r.random() < 0.15:
            ov.append("model.tiny.rope_scaling=" + r.choice((
                "{rope_type: linear, factor: 2.0}",
                "{rope_type: llama3, factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, "
                "original_max_position_embeddings: 256}",
                "{rope_type: yarn, factor: 4.0, original_max_position_embeddings: 256}")))
    else:  # OPT: hidden = heads x head_dim
        ov += [f"model.tiny.hidden_size={heads * head_dim}"]
    ov += [f"quant={r.choice(FORMATS)}", f"quant.block_size={r.choice((16, 32, 32, 64))}",
           f"hw.prompt_tokens={r.choice((1, 2, 3, 5, 8, 8, 11, 16, 17, 24, 33))}", "target=sim"]
    if r.random() < 0.2:
        ov.append(f"model.tiny.norm_gain={r.choice((4.0, 20.0))}")
    # generated tokens for the decode check: its own stream, so the prefill configurations stay the same
    ov.append(f"hw.generate_tokens={random.Random(seed * 7919 + 1).choice((1, 2, 3, 4, 6))}")
    return GenConfig(seed, family, ov)


@dataclass
class Outcome:
    config: GenConfig
    result: str  # bit-exact | refused | failed
    detail: str = ""
    stage: str = ""  # where a refusal or failure happened
    seconds: float = 0.0


def _done(out: Path) -> list[str]:
    """Stages whose result file exists in the run folder."""
    files = {"quantize": "layers.json", "emit": "hw/emit.json", "lint": "hw/lint.json", "sim": "hw/sim.json"}
    return [s for s in STAGES if (out / files[s]).is_file()]


def try_config(c: GenConfig, out: Path, decode: bool = False) -> Outcome:
    """Run quantize, emit, lint and sim as one run (`decode`: the generate stage alone); classify the
    outcome. A refusal counts only as one line raised before any stage wrote its result."""
    import io
    import json

    from rich.console import Console

    from mase.config import MaseError, compose
    from mase.pipeline import run

    t0 = time.perf_counter()
    quiet = Console(file=io.StringIO())  # the parameter tables of emit: not one per configuration
    if decode:
        return _try_decode(c, out, t0, quiet)
    try:
        run(compose(c.overrides), out, stages=STAGES, console=quiet)
    except MaseError as exc:
        msg, done = str(exc).strip(), _done(out)
        where = STAGES[len(done)] if len(done) < len(STAGES) else "sim"
        if "\n" not in msg and not done:
            return Outcome(c, "refused", msg, "preflight", time.perf_counter() - t0)
        return Outcome(c, "failed", msg[-800:], where, time.perf_counter() - t0)
    except Exception:
        return Outcome(c, "failed", traceback.format_exc()[-1500:], STAGES[len(_done(out))] if len(_done(out)) < 4
                       else "sim", time.perf_counter() - t0)
    sim = json.loads((out / "hw" / "sim.json").read_text())
    whole = sim.get("scope") == "whole model" and sim.get("bit_exact")
    return Outcome(c, "bit-exact" if whole else "failed", "" if whole else json.dumps(sim)[:800], "sim",
                   time.perf_counter() - t0)


def _try_decode(c: GenConfig, out: Path, t0: float, console) -> Outcome:
    """The quantize and generate stages on configuration `c`: lint, then the decode design's greedy tokens in
    Verilator (gated, and with random stalls and back-pressure), bit-exact and equal to the golden
    model's; a refusal is one line raised before hw/generate.json exists."""
    import json

    from mase.config import MaseError, compose
    from mase.pipeline import run

    res_file = out / "hw" / "generate.json"
    try:
        run(compose(c.overrides), out, stages=["quantize", "generate"], console=console)  # fixed8 calibrates
    except MaseError as exc:
        msg = str(exc).strip()
        if "\n" not in msg and not res_file.is_file():
            return Outcome(c, "refused", msg, "preflight", time.perf_counter() - t0)
        return Outcome(c, "failed", msg[-800:], "generate", time.perf_counter() - t0)
    except Exception:
        return Outcome(c, "failed", traceback.format_exc()[-1500:], "generate", time.perf_counter() - t0)
    res = json.loads(res_file.read_text())
    ok = res["bit_exact"] and res["match"] and res["tokens_hw"] == res["tokens_golden"] and (res["lint"] or {}).get("clean")
    detail = "" if ok else json.dumps({k: res.get(k) for k in ("tokens_hw", "tokens_golden", "bit_exact", "lint",
                                                               "mismatches")})[:800]
    return Outcome(c, "bit-exact" if ok else "failed", detail, "generate", time.perf_counter() - t0)
