"""`python -m index`: the operator commands (see index.cli)."""
import sys

from index.cli import main as cli_main
from ingest.cli import run_cli


def main() -> int:
    return run_cli(cli_main)


if __name__ == "__main__":
    sys.exit(main())
