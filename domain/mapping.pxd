# Cython declarations for mapping.py (compiled with it; the .py stays the source): the
# functions of the other compiled modules it calls on every message, called directly.
from domain.identifiers cimport detect_platform, is_identifiable, user_data
from domain.properties cimport map_properties
from domain.timestamps cimport bq_timestamp_text, event_time
from domain.values cimport to_text

cdef dict _ROW_TEMPLATE  # (a C-level dict: copied once per message)
cdef dict _ID_PREFIXES  # (a C-level dict: read once per message)

cpdef str event_id(str app_id, str message_id)
cpdef decode(bytes data)
cpdef bint integrations_disabled(integrations)
