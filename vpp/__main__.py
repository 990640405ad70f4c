"""Run the CLI as ``python -m vpp``."""

from vpp.cli import main

main()
