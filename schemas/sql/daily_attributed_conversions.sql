-- daily_attributed_conversions: attributed events and their revenue per app, UTC day,
-- campaign, channel, feature and advertising partner, and the touch type (deduplicated).
-- Revenue is per currency: currencies are never summed together.
SELECT
  app_id,
  DATE(`timestamp`) AS day,
  last_attributed_touch_data_tilde_campaign AS campaign,
  last_attributed_touch_data_tilde_channel AS channel,
  last_attributed_touch_data_tilde_feature AS feature,
  last_attributed_touch_data_tilde_advertising_partner_name AS advertising_partner_name,
  last_attributed_touch_type AS touch_type,
  event_data_currency,
  COUNT(*) AS conversions,
  SUM(event_data_revenue) AS revenue
FROM {dataset}.events_dedup
WHERE attributed
GROUP BY app_id, day, campaign, channel, feature, advertising_partner_name, touch_type, event_data_currency
