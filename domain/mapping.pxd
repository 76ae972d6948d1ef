# Declarations for the compiled form of mapping.py (docs/compiled.md).
from domain.decoder cimport decode
from domain.identifiers cimport detect_platform, is_identifiable, user_data
from domain.properties cimport map_properties
from domain.timestamps cimport bq_timestamp_text, event_time
from domain.values cimport to_text

cdef dict _ROW_TEMPLATE
cdef dict _ID_PREFIXES

cpdef str event_id(str app_id, str message_id)
cpdef bint integrations_disabled(integrations)

# The phases of _decide, in check order.
cpdef _envelope(bytes data, settings, str app_id)
cpdef _route(dict doc, attributes, app, str message_id, str segment_name, str platform)
cpdef _not_imported(
    dict doc, dict ctx, dict properties, str platform, publish_time, now, app, str message_id, str segment_name, str name
)
cpdef _timed(dict doc, publish_time, now, settings, str app_id, str message_id, str segment_name, str platform)
cpdef _identity(
    dict doc, dict ctx, dict properties, str platform, list warnings, dict row, app, str message_id, str segment_name,
    str name
)
cpdef _row(
    dict doc, dict properties, dict row, list warnings, publish_time, now, str app_id, str message_id,
    str segment_name, str platform, known, when
)
