"""``python -m relu_study.explore``: The activation explorer (code in :mod:`relu_study.tools.explore`)."""

import sys

from relu_study.tools.explore import main

if __name__ == "__main__":
    sys.exit(main())
