-- events_dedup: one row per imported event (app_id, id), the third dedup line of SPEC 6.
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
SELECT
  *,
  COALESCE(
    user_data_developer_identity,
    user_data_idfv,
    user_data_android_id,
    user_data_idfa,
    user_data_aaid,
    user_data_browser_fingerprint_id
  ) AS user_key
FROM {dataset}.events
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (PARTITION BY app_id, id, `timestamp` ORDER BY ingested_at) = 1
