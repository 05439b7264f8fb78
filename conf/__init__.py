# Hydra config groups of relu_study; installed as the package relu_study.conf.
