-- content_item_breakdown: per app, UTC day, event name and product (canonical_identifier,
-- else sku): how many events carried the product, the units, and the item value
-- (price x quantity, quantity 1 when absent). One row per content item is unnested first.
SELECT
  app_id,
  DATE(`timestamp`) AS day,
  name,
  COALESCE(item.canonical_identifier, item.sku) AS product_id,
  MAX(item.product_name) AS product_name,
  COUNT(DISTINCT id) AS event_count,
  SUM(COALESCE(item.quantity, 1)) AS quantity,
  SUM(item.price * COALESCE(item.quantity, 1)) AS item_value
FROM {dataset}.events_dedup, UNNEST(content_items) AS item
GROUP BY app_id, day, name, product_id
