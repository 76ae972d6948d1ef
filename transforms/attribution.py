"""AttributeEvents: each imported event's attribution (SPEC section 9), decided in the stream.

The rules are ``domain.attribution``'s; this composite runs them over keyed state. A Beam graph
is acyclic, so the one-hop rule is run in four keyed, stateful stages (docs/attribution.md):

    events --fan out over identity keys--> DirectTouches (app, key) <-- touches
              --direct candidates per key--> FirstHop (event id): decides the first-hop touch
              --links and lookups----------> LinkedTouches (app, key)
              --linked candidates per key--> Decide (event id) <-- the row, the direct candidates
                                               '-> the row with its attribution columns

Each conversion is decided once, with the touches and links its keys' stages had received
when it reached them (the arrival order the in-memory state of ``map --attribute`` is given).
State per identity key expires after the app's longest window plus the oldest accepted event
age; state per event id is cleared once the event is decided.

With a ``read_touches`` step (the jobs' ``--read_touches_table``), the touches already in the
``touches`` table that a conversion published from the job's start could use (loaded from
Branch's export files, or seen before a restart) are read once when the job starts, and each
conversion, on its way to DirectTouches, collects those under its key from them (a side input:
no conversion is decided before they are read).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import apache_beam as beam
from apache_beam.coders import PickleCoder, VarIntCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import BagStateSpec, ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.utils.timestamp import Duration

from domain.attribution import (
    Candidate,
    DecisionTable,
    Touch,
    Windows,
    choose,
    identity_keys,
    links_of,
    replay_decisions,
)
from domain.timestamps import parse_timestamp
from schemas.reasons import METRICS_NAMESPACE
from transforms.tags import CANDIDATES
from transforms.touches_table import TouchesToRead, micros_of

# Elements between the stages (tuples: the first item says what it is).
_CONVERSION = "c"  # (event id, event time, key count[, touches from the table]) to DirectTouches
_DIRECT = "d"  # (key, touches, event time, key count) to FirstHop
_LINK = "l"  # (touch, origin event id) to LinkedTouches
_LOOKUP = "k"  # (event id, event time) to LinkedTouches
_CANDIDATES = "D"  # (direct candidates, key count) to Decide
_LINKED = "L"  # (key, touches) to Decide
_ROW = "r"  # the events row, to Decide

_MICROSECOND = timedelta(microseconds=1)


def _relevant(touches: list[Touch], when: datetime, horizon: timedelta) -> list[Touch]:
    """The touches a conversion at ``when`` could be attributed to (by time; ``choose`` decides)."""
    return [touch for touch in touches if timedelta(0) <= when - touch.timestamp <= horizon]


# Keys: (app id, (key kind, value)) for the identity stages, the event id for the others. Every
# step that feeds a stateful stage declares them, so that the key coder is deterministic (Beam's
# tuple and string coders): a key's state is addressed by its encoded bytes.
IdentityKey = tuple[str, tuple[str, str]]
ByIdentity = tuple[IdentityKey, tuple[str, Any]]  # (identity key, (what it is, payload))
ByEvent = tuple[str, tuple[str, Any]]  # (event id, (what it is, payload))


@beam.typehints.with_input_types(ByIdentity)
class _KeyedTouchesFn(beam.DoFn):
    """Base of the two stages keyed by (app id, identity key): a bag of touches that expires."""

    TOUCHES = BagStateSpec("touches", PickleCoder())
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)
    EXPIRES_AT = ReadModifyWriteStateSpec("expires_at_micros", VarIntCoder())

    def __init__(self, windows: dict[str, Windows], max_event_age: timedelta | None) -> None:
        self._windows = windows
        # A conversion can be published up to max_event_age after its event time: a touch stays
        # usable for its window after that.
        self._lifetime = {app: w.longest + (max_event_age or timedelta(0)) for app, w in windows.items()}

    def _keep(self, app_id: str, timestamp: Any, expiry: Any, expires_at: Any) -> None:
        """Hold the key's state until the watermark passes the lifetime after this element."""
        at = timestamp + Duration(micros=self._lifetime.get(app_id, timedelta(0)) // timedelta(microseconds=1))
        known = expires_at.read()
        if known is None or at.micros > known:
            expires_at.write(at.micros)
            expiry.set(at)

    @on_timer(EXPIRY)
    def expire(self, touches=beam.DoFn.StateParam(TOUCHES), expires_at=beam.DoFn.StateParam(EXPIRES_AT)):
        touches.clear()
        expires_at.clear()


class _DirectTouchesFn(_KeyedTouchesFn):
    """Stage 1: the touches seen under a key; each conversion gets those it could use."""

    def process(self, element, timestamp=beam.DoFn.TimestampParam, touches=beam.DoFn.StateParam(
            _KeyedTouchesFn.TOUCHES), expiry=beam.DoFn.TimerParam(_KeyedTouchesFn.EXPIRY),
            expires_at=beam.DoFn.StateParam(_KeyedTouchesFn.EXPIRES_AT)) -> Iterator[Any]:  # fmt: skip
        (app_id, key), (kind, payload) = element
        if kind == _CONVERSION:
            event_id, when, count = payload[:3]
            found = _relevant(list(touches.read()), when, self._windows[app_id].longest)
            if len(payload) > 3:  # (a touch both in the table and in the stream: ``choose`` sees it once)
                found += payload[3]
            yield event_id, (_DIRECT, (app_id, key, found, when, count))
        else:  # a touch
            touches.add(payload)
            self._keep(app_id, timestamp, expiry, expires_at)


class _LinkedTouchesFn(_KeyedTouchesFn):
    """Stage 3: the touches learned under a key through other conversions (one hop)."""

    def process(self, element, timestamp=beam.DoFn.TimestampParam, touches=beam.DoFn.StateParam(
            _KeyedTouchesFn.TOUCHES), expiry=beam.DoFn.TimerParam(_KeyedTouchesFn.EXPIRY),
            expires_at=beam.DoFn.StateParam(_KeyedTouchesFn.EXPIRES_AT)) -> Iterator[Any]:  # fmt: skip
        (app_id, key), (kind, payload) = element
        if kind == _LOOKUP:
            event_id, when = payload
            found = [touch for touch, origin in touches.read() if origin != event_id]
            yield event_id, (_LINKED, (key, _relevant(found, when, self._windows[app_id].longest)))
        else:  # a link: (touch, the conversion that taught it)
            touches.add(payload)
            self._keep(app_id, timestamp, expiry, expires_at)


@beam.typehints.with_input_types(ByEvent)
class _FirstHopFn(beam.DoFn):
    """Stage 2, keyed by event id: once every key has answered, the first-hop touch (the best
    direct one) is taught under the conversion's other keys, and each key is asked for links."""

    ANSWERS = BagStateSpec("answers", PickleCoder())

    def __init__(self, windows: dict[str, Windows]) -> None:
        self._windows = windows

    def process(self, element, answers=beam.DoFn.StateParam(ANSWERS)) -> Iterator[Any]:
        event_id, (_, answer) = element
        answers.add(answer)
        received = list(answers.read())
        app_id, _, _, when, count = answer
        if len(received) < count:
            return
        answers.clear()
        keys = [key for _, key, _, _, _ in received]
        direct = [Candidate(touch, key[0]) for _, key, found, _, _ in received for touch in found]
        first_hop = choose(direct, when, self._windows[app_id])
        for key in links_of(first_hop, keys):
            assert first_hop is not None
            yield (app_id, key), (_LINK, (first_hop.touch, event_id))
        for key in keys:
            yield (app_id, key), (_LOOKUP, (event_id, when))
        yield beam.pvalue.TaggedOutput(CANDIDATES, (event_id, (_CANDIDATES, (direct, count))))


@beam.typehints.with_input_types(ByEvent)
@beam.typehints.with_output_types(dict)
class _DecideFn(beam.DoFn):
    """Stage 4, keyed by event id: the row, its direct candidates and each key's linked ones
    -> the row with its attribution columns."""

    PARTS = BagStateSpec("parts", PickleCoder())

    def __init__(self, windows: dict[str, Windows]) -> None:
        self._windows = windows
        self._attributed = Metrics.counter(METRICS_NAMESPACE, "attributed")

    def process(self, element, parts=beam.DoFn.StateParam(PARTS)) -> Iterator[dict[str, Any]]:
        _, part = element
        parts.add(part)
        received = list(parts.read())
        rows = [payload for kind, payload in received if kind == _ROW]
        direct = [payload for kind, payload in received if kind == _CANDIDATES]
        if not rows or not direct or sum(kind == _LINKED for kind, _ in received) < direct[0][1]:
            return
        parts.clear()
        row = rows[0]
        when = parse_timestamp(row["timestamp"], "timestamp")
        linked = [Candidate(touch, key[0], linked=True) for kind, (key, found) in
                  ((k, p) for k, p in received if k == _LINKED) for touch in found]  # fmt: skip
        decided = choose(direct[0][0] + linked, when, self._windows[row["app_id"]])
        if decided is None:  # the mapping's row is unattributed
            yield row
        else:
            self._attributed.inc()
            yield {**row, **decided.columns(when)}


def _fan_out_conversion(row: dict[str, Any]) -> Iterator[Any]:
    keys = identity_keys(row)
    when = parse_timestamp(row["timestamp"], "timestamp")
    for key in keys:
        yield (row["app_id"], key), (_CONVERSION, (row["id"], when, len(keys)))


def _key_touch(row: dict[str, Any]) -> Iterator[tuple[IdentityKey, Touch]]:
    touch = Touch.from_row(row)
    for key in touch.keys:
        yield (touch.app_id, key), touch


def _fan_out_touch(row: dict[str, Any]) -> Iterator[Any]:
    for key, touch in _key_touch(row):
        yield key, ("t", touch)


def touches_usable_from(
    now: datetime, windows: dict[str, Windows], max_event_age: timedelta | None
) -> Iterator[TouchesToRead]:
    """What a streaming job starting at ``now`` reads from ``touches``: per app (with a window),
    the touches a conversion published from now on can still be attributed to (event times up
    to ``max_event_age`` old), up to a day ahead (clock skew)."""
    for app_id, app_windows in sorted(windows.items()):
        if app_windows.longest > timedelta(0):
            since = now - app_windows.longest - (max_event_age or timedelta(0))
            yield app_id, (micros_of(since), micros_of(now + timedelta(days=1)))


def _touches_at_start(_, windows: dict[str, Windows], max_event_age: timedelta | None) -> Iterator[TouchesToRead]:
    return touches_usable_from(datetime.now(UTC), windows, max_event_age)


@beam.typehints.with_input_types(ByIdentity, table=Any)
@beam.typehints.with_output_types(ByIdentity)
class _WithTableTouchesFn(beam.DoFn):
    """A conversion on its way to DirectTouches picks up the touches read from the table under
    its key (a multimap side input by (app id, identity key))."""

    def __init__(self, windows: dict[str, Windows]) -> None:
        self._windows = windows

    def process(self, element, table) -> Iterator[Any]:
        (app_id, key), (kind, (event_id, when, count)) = element
        found = _relevant(table[(app_id, key)], when, self._windows[app_id].longest)
        yield (app_id, key), (kind, (event_id, when, count, found) if found else (event_id, when, count))


class AttributeEvents(beam.PTransform):
    """``{"events": unique events rows, "touches": touches rows}`` -> the events rows with their
    attribution columns (SPEC 9). ``windows``: each app's windows, by app id. ``read_touches``:
    a step from :data:`transforms.touches_table.TouchesToRead` to touches rows (the table's),
    or None to start from the stream's touches only."""

    def __init__(
        self,
        windows: dict[str, Windows],
        max_event_age: timedelta | None,
        read_touches: beam.PTransform | None = None,
    ) -> None:
        super().__init__()
        self._windows = windows
        self._max_event_age = max_event_age
        self._read_touches = read_touches

    def expand(self, inputs):
        events, touches = inputs["events"], inputs["touches"]
        conversions = events | "KeyConversions" >> beam.FlatMap(_fan_out_conversion).with_output_types(ByIdentity)
        if self._read_touches is not None:
            table = (
                events.pipeline
                | "StartOfRun" >> beam.Impulse()
                | "TouchesToRead" >> beam.FlatMap(_touches_at_start, self._windows, self._max_event_age)
                | "ReadTouchesTable" >> self._read_touches
                | "KeyTableTouches" >> beam.FlatMap(_key_touch)
            )
            conversions = conversions | "WithTableTouches" >> beam.ParDo(
                _WithTableTouchesFn(self._windows), beam.pvalue.AsMultiMap(table)
            )
        direct = (
            (
                conversions,
                touches | "KeyTouches" >> beam.FlatMap(_fan_out_touch).with_output_types(ByIdentity),
            )
            | "ToDirectTouches" >> beam.Flatten()
            | "DirectTouches"
            >> beam.ParDo(_DirectTouchesFn(self._windows, self._max_event_age)).with_output_types(ByEvent)
        )
        asked = direct | "FirstHop" >> beam.ParDo(_FirstHopFn(self._windows)).with_output_types(
            ByIdentity, **{CANDIDATES: ByEvent}
        ).with_outputs(CANDIDATES, main="keys")
        linked = asked.keys | "LinkedTouches" >> beam.ParDo(
            _LinkedTouchesFn(self._windows, self._max_event_age)
        ).with_output_types(ByEvent)
        rows = events | "KeyRows" >> beam.Map(lambda row: (row["id"], (_ROW, row))).with_output_types(ByEvent)
        return (
            (rows, asked[CANDIDATES], linked)
            | "ToDecide" >> beam.Flatten()
            | "Decide" >> beam.ParDo(_DecideFn(self._windows))
        )


# --------------------------------------------------------------------------- the backfill

_TOUCH, _PACK = "t", "p"  # what the replay of an app receives


class _ReplayAppFn(beam.DoFn):
    """One app's touches and conversion packs -> its decisions (``replay_decisions``' blobs:
    few, compact elements, so that the side input that carries them costs little to cache)."""

    def __init__(self, windows: dict[str, Windows]) -> None:
        self._windows = windows
        self._attributed = Metrics.counter(METRICS_NAMESPACE, "attributed")

    def process(self, element) -> Iterator[bytes]:
        app_id, items = element
        # By id: a touch read from the table may also be one of the archive's (the same touch).
        touches = list({payload.id: payload for kind, payload in items if kind == _TOUCH}.values())
        packs = [payload for kind, payload in items if kind == _PACK]
        with _collector_paused():
            for blob, count in replay_decisions(app_id, touches, packs, self._windows[app_id]):
                self._attributed.inc(count)
                yield blob


def touches_usable_by(conversions: TouchesToRead, windows: dict[str, Windows]) -> TouchesToRead:
    """The touches an app's conversions of a time span could use: its longest window before them."""
    app_id, (first, last) = conversions
    return app_id, (first - windows[app_id].longest // _MICROSECOND, last)


def _widest(spans: Iterable[tuple[int, int]]) -> tuple[int, int]:
    """The span covering every (first, last) time span given."""
    spans = list(spans)
    return min(first for first, _ in spans), max(last for _, last in spans)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector paused: the replay builds an app's key sets and conversions
    (many containers, no cycles), and the collections that many allocations trigger walked
    them again and again: measured, the replay took 1.6x as long with the collector on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class DecideInEventTimeOrder(beam.PTransform):
    """The backfill's attribution decisions: ``{"touches": rows, "conversions": packs}`` ->
    the blobs of a :class:`domain.attribution.DecisionTable`, decided in event-time order
    (``attribute_in_event_time_order``). ``conversions``: the mapping step's ``(app id, pack,
    first, last)`` of each chunk (``domain.attribution``'s replay input, what attribution needs
    of each copy, and the copies' earliest and latest event time in microseconds).

    ``read_touches`` (the backfill's ``--read_touches_table``): a step from
    :data:`transforms.touches_table.TouchesToRead` to touches rows. Each app's touches are then
    also those of the table from its longest window before its earliest conversion to its
    latest one (loaded from Branch's export files, or written by the stream or an earlier run:
    a touch both there and in the archive counts once).

    Each app's touches and packs are read by one worker (``replay_candidates``, then the
    replay of those in event-time order): memory holds the app's touch keys, the keys it may
    learn and the conversions replayed. The rows (the bulk) never meet this graph: dedup reads
    the blobs as a side input and applies them as it emits each kept row
    (:class:`WithDecisions`).
    """

    def __init__(self, windows: dict[str, Windows], read_touches: beam.PTransform | None = None) -> None:
        super().__init__()
        self._windows = windows
        self._read_touches = read_touches

    def expand(self, inputs):
        touches, packs = inputs["touches"], inputs["conversions"]
        if self._read_touches is not None:  # and those of the table the archive's conversions could use
            table = (
                packs
                | "ConversionTimes" >> beam.MapTuple(lambda app_id, _, first, last: (app_id, (first, last)))
                | "TimesPerApp" >> beam.CombinePerKey(_widest)
                | "TouchesToRead" >> beam.Map(touches_usable_by, self._windows)
                | "ReadTouchesTable" >> self._read_touches
            )
            touches = (touches, table) | "WithTableTouches" >> beam.Flatten()
        app_touches = touches | "TouchesByApp" >> beam.Map(lambda row: (row["app_id"], (_TOUCH, Touch.from_row(row))))
        app_packs = packs | "PacksByApp" >> beam.MapTuple(lambda app_id, pack, *_: (app_id, (_PACK, pack)))
        return (
            (app_touches, app_packs)
            | "ToReplay" >> beam.Flatten()
            | "GroupByApp" >> beam.GroupByKey()
            | "ReplayInOrder" >> beam.ParDo(_ReplayAppFn(self._windows))
        )


class WithDecisions:
    """The kept-row step of the batch dedup (``DropDuplicates(kept=WithDecisions(), ...)``):
    given :class:`DecideInEventTimeOrder`'s blobs (a list side input), the function that sets a
    row's attribution columns (:meth:`DecisionTable.apply`). The table is built once per worker
    and side input value (each shard hands the same blobs again), not per shard or bundle."""

    def __init__(self) -> None:
        self._blobs: list[bytes] | None = None
        self._table: DecisionTable | None = None

    def __call__(self, blobs: list[bytes]) -> Callable[[dict[str, Any]], dict[str, Any]]:
        if self._table is None or (blobs is not self._blobs and blobs != self._blobs):
            self._table = DecisionTable(blobs)  # (equal blobs: the same decisions)
        self._blobs = blobs
        return self._table.apply

    def __getstate__(self) -> dict[str, Any]:  # shipped to workers without a table
        return {"_blobs": None, "_table": None}
