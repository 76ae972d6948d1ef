# Declarations for the compiled form of mapping.py (docs/compiled.md).
from domain.identifiers cimport detect_platform, is_identifiable, user_data
from domain.properties cimport map_properties
from domain.timestamps cimport bq_timestamp_text, event_time
from domain.values cimport to_text

cdef dict _ROW_TEMPLATE
cdef dict _ID_PREFIXES

cpdef str event_id(str app_id, str message_id)
cpdef decode(bytes data)
cpdef bint integrations_disabled(integrations)
