-- import_stats_dedup: import_stats with each written row once.
--
-- A streaming insert retried after a lost answer can store a row twice (BigQuery's insert-id
-- dedup is best effort, the local emulator has none), and rows are increments summed by
-- every reader: so readers count each row_id once, through this view. `minute` is part of
-- the PARTITION BY (copies share it) so a caller's `minute` filter is pushed down.
SELECT * EXCEPT (copy)
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY row_id, minute ORDER BY written_at) AS copy
  FROM {dataset}.import_stats
)
WHERE copy = 1
