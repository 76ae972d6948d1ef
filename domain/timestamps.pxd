# Cython declarations for timestamps.py (compiled with it; the .py stays the source): C entry
# points for the modules that cimport them (mapping).
cpdef parse_timestamp(value, str field)
cpdef event_time(dict doc, publish_time, now)
cpdef str bq_timestamp_text(value, str field)
