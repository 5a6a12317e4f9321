"""`python -m ingest`: inspect what a source yields (see ingest.cli)."""
import sys

from ingest.cli import main as cli_main
from ingest.cli import run_cli


def main() -> int:
    return run_cli(cli_main)


if __name__ == "__main__":
    sys.exit(main())
