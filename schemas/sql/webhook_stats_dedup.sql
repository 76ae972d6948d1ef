-- webhook_stats_dedup: webhook_stats with each written row once.
--
-- As import_stats: a streaming insert retried after a lost answer can store a row twice, and
-- rows are increments summed by every reader, so readers count each row_id once, through
-- this view. `minute` is part of the PARTITION BY so a caller's `minute` filter is pushed down.
SELECT * EXCEPT (copy)
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY row_id, minute ORDER BY minute) AS copy
  FROM {dataset}.webhook_stats
)
WHERE copy = 1
