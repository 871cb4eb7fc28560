"""Python entry points: form clusters from frames or scenario files, estimator, sweeps."""
