-- daily_unique_users: distinct users per app and UTC day, by events_dedup.user_key
-- (developer identity, else device ids, else browser fingerprint). Days do not add up to
-- a multi-day figure: a user active on two days counts once per day.
SELECT
  app_id,
  DATE(`timestamp`) AS day,
  COUNT(DISTINCT user_key) AS unique_users
FROM {dataset}.events_dedup
GROUP BY app_id, day
