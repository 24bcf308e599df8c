"""The job lifecycle: the only writer of job state and of the ledger."""
