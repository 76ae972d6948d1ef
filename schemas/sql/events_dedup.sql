-- events_dedup: one row per imported event (app_id, id), the third dedup line of rules §6.
--
-- The pipeline drops repeats within its dedup window and BigQuery's insert ids catch most
-- retries, but neither is a guarantee, so every reader goes through this view. The first
-- ingested copy wins. `timestamp` is part of the window's PARTITION BY (an event id always
-- has the same event time) so BigQuery pushes a caller's `timestamp` filter through the
-- window function: queries on this view must filter on `timestamp`, as on `events`.
--
-- user_key: the identity "unique users" counts (developer identity, else a device id,
-- else the browser fingerprint). Defined once here for the views and the Query API.
-- Plain COALESCE without type prefixes: the id kinds have disjoint shapes in practice, and
-- the BigQuery emulator cannot expand `*` next to a CONCAT expression in a view.
--
-- event_data_exchange_rate / event_data_revenue_in_usd (rules §8): the USD value of one unit
-- of the event's currency on the event's UTC day, from the latest dated rate on or before
-- that day in exchange_rates (`segment-branch load-rates`); NULL when the currency has no
-- rate, so USD sums leave such events out instead of adding other currencies as dollars.
-- Rates are joined when read, so a rate loaded late applies to events already stored.
WITH rates AS (
  SELECT
    currency,
    day AS valid_from,
    LEAD(day) OVER (PARTITION BY currency ORDER BY day) AS valid_to,
    usd_per_unit
  FROM (
    SELECT currency, day, usd_per_unit
    FROM {dataset}.exchange_rates
    WHERE TRUE
    QUALIFY ROW_NUMBER() OVER (PARTITION BY currency, day ORDER BY loaded_at DESC) = 1
  )
)
SELECT
  e.*,
  COALESCE(
    e.user_data_developer_identity,
    e.user_data_idfv,
    e.user_data_android_id,
    e.user_data_idfa,
    e.user_data_aaid,
    e.user_data_browser_fingerprint_id
  ) AS user_key,
  IF(e.event_data_currency = 'USD', NUMERIC '1', r.usd_per_unit) AS event_data_exchange_rate,
  e.event_data_revenue * IF(e.event_data_currency = 'USD', NUMERIC '1', r.usd_per_unit) AS event_data_revenue_in_usd
FROM {dataset}.events AS e
LEFT JOIN rates AS r
  ON r.currency = e.event_data_currency
  AND DATE(e.`timestamp`) >= r.valid_from
  AND (r.valid_to IS NULL OR DATE(e.`timestamp`) < r.valid_to)
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (PARTITION BY e.app_id, e.id, e.`timestamp` ORDER BY e.ingested_at) = 1
