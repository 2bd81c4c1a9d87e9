"""mase: compile large language models into Microscaling (MX) dataflow accelerators for FPGAs."""

__version__ = "0.1.0"
