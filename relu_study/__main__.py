"""``python -m relu_study``: see :mod:`relu_study.cli`."""

from relu_study.cli import main

if __name__ == "__main__":
    main()
