"""Command-line entry point (placeholder until the Hydra app lands)."""


def main() -> None:
    raise SystemExit("mase: the Hydra application is not built yet")
