-- daily_revenue: revenue per app, UTC day and currency (deduplicated events with revenue).
-- Currencies are never summed together: convert downstream if one total is needed.
SELECT
  app_id,
  DATE(`timestamp`) AS day,
  event_data_currency,
  SUM(event_data_revenue) AS revenue,
  COUNT(*) AS event_count
FROM {dataset}.events_dedup
WHERE event_data_revenue IS NOT NULL
GROUP BY app_id, day, event_data_currency
