-- Wake-ups: one NOTIFY per message, all in one round trip (delivered when the transaction commits).
SELECT pg_notify(%(channel)s, m) FROM unnest(%(messages)s::text[]) AS m
