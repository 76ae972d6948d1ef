-- rejected_events_dedup: each dead letter once.
--
-- A streaming insert retried after a lost answer can store a row twice (BigQuery's insert-id
-- dedup is best effort, the local emulator has none): readers count each row_id once,
-- through this view. `rejected_at` is part of the PARTITION BY (copies share it) so a
-- caller's `rejected_at` filter is pushed down.
SELECT * EXCEPT (copy)
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY row_id, rejected_at ORDER BY rejected_at) AS copy
  FROM {dataset}.rejected_events
)
WHERE copy = 1
