"""``python -m relu_study.compare``: tables and plots across existing runs and sweeps.

The code is in :mod:`relu_study.sweeps.compare`.
"""

import sys

from relu_study.sweeps.compare import main

if __name__ == "__main__":
    sys.exit(main())
