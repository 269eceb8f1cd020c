DELETE FROM conveyor_webhook_deliveries WHERE job_id = :job_id
