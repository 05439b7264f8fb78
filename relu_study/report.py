"""``python -m relu_study.report``: the claim report from claim-study sweeps.

The code is in :mod:`relu_study.claims.report`.
"""

import sys

from relu_study.claims.report import main

if __name__ == "__main__":
    sys.exit(main())
