"""Jobs and job runs: the job store, the run scheduler and the reconciler."""
