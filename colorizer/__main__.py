"""`python -m colorizer` is the `colorizer` command (torchrun uses this form: `torchrun ... -m colorizer train`)."""

from colorizer.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
