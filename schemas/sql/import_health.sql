-- import_health: the "green dot" per app and platform, from import_stats.
--
-- One row per app, platform, outcome and reason with the counts of the last hour and the
-- last day, the last minute that outcome was seen, and per app/platform the last minute an
-- event was imported (NULL: nothing imported in 30 days). import_stats rows are
-- increments (one row per key per bundle; re-runs add rows), so counts are always SUM(count).
-- Looks back 30 days, which bounds the scan of the minute-partitioned table.
SELECT
  app_id,
  platform,
  outcome,
  reason,
  MAX(MAX(IF(outcome = 'imported', `minute`, NULL))) OVER (PARTITION BY app_id, platform) AS last_imported_minute,
  MAX(`minute`) AS last_minute,
  SUM(IF(`minute` >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 HOUR), `count`, 0)) AS last_hour_count,
  SUM(IF(`minute` >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 DAY), `count`, 0)) AS last_day_count
FROM {dataset}.import_stats_dedup
WHERE `minute` >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)
GROUP BY app_id, platform, outcome, reason
