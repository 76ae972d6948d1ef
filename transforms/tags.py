"""The tag vocabulary of the import graph: every tagged output of every step is one of these.

A step's main output is what flows on (mapped copies to dedup, unique rows to the sink);
a tag holds what leaves the flow.
"""

from schemas.reasons import Outcome

REJECTED = Outcome.REJECTED.value  # rejected_events rows: dead letters, raw payload kept
DUPLICATE = Outcome.DUPLICATE.value  # copies dedup dropped as repeats
COUNTS = "counts"  # (StatKey, delta) outcome counts, summed into import_stats rows
TOUCHES = "touches"  # touches rows (rules §9), from the touch sources among skipped messages
RAW = "raw"  # streaming: (event id, raw message fields) of each imported copy, joined to its row at Decide
CONVERSIONS = "conversions"  # batch: per chunk and app, (app id, pack of the imported copies that
# have identity keys, their earliest and latest event time in microseconds): attribution's
# input, not the rows (domain.attribution, "replay input")
