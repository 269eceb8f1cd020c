"""Services every worker runs beside the job pipeline: lease rescue and retention."""
