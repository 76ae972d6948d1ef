# Declarations for the compiled form of timestamps.py (docs/compiled.md).
cpdef parse_timestamp(value, str field)
cpdef event_time(dict doc, publish_time, now)
cpdef str bq_timestamp_text(value, str field)
