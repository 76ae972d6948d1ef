-- daily_revenue: revenue per app, UTC day and currency (deduplicated events with revenue).
-- Currencies are never summed together: `revenue` is in the row's currency; `revenue_in_usd`
-- converts with exchange_rates (events_dedup) and leaves out the events whose currency has
-- no rate, which `events_without_usd_rate` counts (the metric to alert on: load a rate).
SELECT
  app_id,
  DATE(`timestamp`) AS day,
  event_data_currency,
  SUM(event_data_revenue) AS revenue,
  SUM(event_data_revenue_in_usd) AS revenue_in_usd,
  COUNT(*) AS event_count,
  COUNTIF(event_data_revenue_in_usd IS NULL) AS events_without_usd_rate
FROM {dataset}.events_dedup
WHERE event_data_revenue IS NOT NULL
GROUP BY app_id, day, event_data_currency
