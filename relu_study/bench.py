"""``python -m relu_study.bench``: The speed benchmark (code in :mod:`relu_study.tools.bench`)."""

import sys

from relu_study.tools.bench import main

if __name__ == "__main__":
    sys.exit(main())
