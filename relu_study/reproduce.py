"""``python -m relu_study.reproduce``: every claim study and the report, into results/.

The code is in :mod:`relu_study.claims.reproduce`.
"""

import sys

from relu_study.claims.reproduce import main

if __name__ == "__main__":
    sys.exit(main())
