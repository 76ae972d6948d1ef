-- campaign_touches: touches per app, UTC day, campaign, channel and touch type, each touch
-- id counted once (a touch replayed or loaded twice is stored twice). Links (source 'link':
-- a touch known under another key of a user, rules §9) are not touches of their own.
SELECT
  app_id,
  DATE(`timestamp`) AS day,
  last_attributed_touch_data_tilde_campaign AS campaign,
  last_attributed_touch_data_tilde_channel AS channel,
  type AS touch_type,
  COUNT(DISTINCT id) AS touches
FROM {dataset}.touches
WHERE source IS DISTINCT FROM 'link'
GROUP BY app_id, day, campaign, channel, touch_type
