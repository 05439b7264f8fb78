"""``python -m relu_study``: the Hydra command line (:mod:`relu_study.runs.cli`)."""

from relu_study.runs.cli import main

if __name__ == "__main__":
    main()
