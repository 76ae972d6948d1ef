-- daily_event_counts: events per app, UTC day, event name, category and OS (deduplicated).
-- Filter on `day` (it maps to the partition column of `events`).
SELECT
  app_id,
  DATE(`timestamp`) AS day,
  name,
  category,
  user_data_os,
  COUNT(*) AS event_count
FROM {dataset}.events_dedup
GROUP BY app_id, day, name, category, user_data_os
