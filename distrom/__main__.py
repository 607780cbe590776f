"""``python -m distrom``: the same as the ``distrom`` command."""
from distrom.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
