"""AttributeEvents: each imported event's attribution (rules §9), decided in the stream.

The rules are ``domain.attribution``'s; this composite runs them over keyed state. A Beam graph
is acyclic, so the one-hop rule runs in four keyed, stateful stages (docs/attribution.md):

    events --a ConversionAt per identity key--> DirectTouches (app, key) <-- TouchAt (stream, table)
      --DirectFound per key--> FirstHop (event id): the first-hop touch
      --TouchAt (a link) and LinkLookup per key--> LinkedTouches (app, key) <-- TouchAt (links, table)
      --LinkedFound per key--> Decide (event id) <-- RowToDecide
                                 '-> the row with its attribution columns

Each conversion is decided once, with the touches and links its keys' stages held when it
reached them (the arrival order the in-memory state of ``map --attribute`` is given).

State is bounded per key (rules §11): an identity key holds one entry per touch id, at most
``max_touches_per_key`` per touch type (the latest; a cut is counted, ``attribution_cut``), and
a touch leaves once no conversion can use it (its window plus ``max_event_age`` after its
time): a timer at the oldest entry's end prunes it, for a busy key too. A key per event id
holds one conversion's parts and is cleared once it is decided.

With ``read_touches`` (the job's ``--read_touches_table``), the touches and links already in
``touches`` that a conversion published from the job's start could use enter the same keyed
state (a parallel read: ``transforms.touches_table``), timestamped at the start of time, so
that the stages' input watermark stays there until every one of them has reached its key.
Until then a key's conversions wait in its state (the gate: a timer just after the start of
time), so none is decided before the read has finished (rules §9), and no worker holds the
table. Every link a conversion teaches is also written to ``touches`` (source ``link``), so a
restarted job knows it too.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import apache_beam as beam
import orjson
from apache_beam.coders import Coder, TupleCoder, VarIntCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import BagStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import MIN_TIMESTAMP, Duration, Timestamp

from domain.attribution import DEFAULT_MAX_TOUCHES_PER_KEY, Candidate, KeyTouches, choose, links_of
from domain.timestamps import micros_in, micros_of, moment_of, parse_timestamp
from domain.touches import LINK_SOURCE, Touch, Windows, identity_keys
from schemas.reasons import METRICS_NAMESPACE
from transforms.state_cache import StatefulDoFn
from transforms.touches_table import TouchesToRead

# Keys: (app id, (key kind, value)) for the identity stages, the event id for the others. Every
# step that feeds a stateful stage declares them, so that the key coder is deterministic (Beam's
# tuple and string coders): a key's state is addressed by its encoded bytes.
IdentityKey = tuple[str, tuple[str, str]]


# --------------------------------------------------------------------------- the messages


class AttributionMessage:
    """What the stages send each other (the classes below): Beam encodes them with
    :class:`MessageCoder`, deterministic JSON, in the stages' inputs and their state."""

    __slots__ = ()


@dataclasses.dataclass(frozen=True, slots=True)
class TouchAt(AttributionMessage):
    """A touch for a key's state: a direct one (``taught_by`` None), or a link taught by the
    conversion ``taught_by``."""

    touch: Touch
    taught_by: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ConversionAt(AttributionMessage):
    """A conversion asking one of its keys for the direct touches it could use."""

    event_id: str
    when: datetime
    key_count: int


@dataclasses.dataclass(frozen=True, slots=True)
class DirectFound(AttributionMessage):
    """What one key held for a conversion, on its way to the conversion's first hop."""

    app_id: str
    key: tuple[str, str]
    touches: tuple[Touch, ...]
    when: datetime
    key_count: int


@dataclasses.dataclass(frozen=True, slots=True)
class LinkLookup(AttributionMessage):
    """A conversion asking one of its keys for links; one of them carries the conversion's
    direct candidates on to Decide (``direct``, else None)."""

    event_id: str
    when: datetime
    key_count: int
    direct: tuple[Candidate, ...] | None


@dataclasses.dataclass(frozen=True, slots=True)
class LinkedFound(AttributionMessage):
    """The links one key held for a conversion (and, from one key, its direct candidates)."""

    key: tuple[str, str]
    touches: tuple[Touch, ...]
    key_count: int
    direct: tuple[Candidate, ...] | None


@dataclasses.dataclass(frozen=True, slots=True)
class RowToDecide(AttributionMessage):
    """The conversion's events row, waiting for its decision."""

    row: dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class RawToDecide(AttributionMessage):
    """The raw message of an imported copy (its dead letter's, should BigQuery refuse the row):
    it comes straight from the mapping, not through dedup, and joins its row at Decide."""

    fields: dict[str, Any]


def _candidates_out(candidates: tuple[Candidate, ...] | None) -> list[Any] | None:
    return None if candidates is None else [[c.touch.packed(), c.kind, c.linked] for c in candidates]


def _candidates_in(values: list[Any] | None) -> tuple[Candidate, ...] | None:
    return None if values is None else tuple(Candidate(Touch.unpacked(t), kind, linked) for t, kind, linked in values)


def _touches_in(values: list[Any]) -> tuple[Touch, ...]:
    return tuple(Touch.unpacked(packed) for packed in values)


# Each message as JSON values, by kind: its fields with touches packed (``Touch.packed``) and
# times in microseconds. The kind's number is its index here (append, never reorder: state
# written by a running job holds these numbers).
_MESSAGES: tuple[tuple[type, Callable[[Any], list[Any]], Callable[[list[Any]], Any]], ...] = (
    (TouchAt, lambda m: [m.touch.packed(), m.taught_by], lambda v: TouchAt(Touch.unpacked(v[0]), v[1])),
    (ConversionAt, lambda m: [m.event_id, micros_of(m.when), m.key_count],
     lambda v: ConversionAt(v[0], moment_of(v[1]), v[2])),
    (DirectFound, lambda m: [m.app_id, m.key, [t.packed() for t in m.touches], micros_of(m.when), m.key_count],
     lambda v: DirectFound(v[0], tuple(v[1]), _touches_in(v[2]), moment_of(v[3]), v[4])),
    (LinkLookup, lambda m: [m.event_id, micros_of(m.when), m.key_count, _candidates_out(m.direct)],
     lambda v: LinkLookup(v[0], moment_of(v[1]), v[2], _candidates_in(v[3]))),
    (LinkedFound, lambda m: [m.key, [t.packed() for t in m.touches], m.key_count, _candidates_out(m.direct)],
     lambda v: LinkedFound(tuple(v[0]), _touches_in(v[1]), v[2], _candidates_in(v[3]))),
    (RowToDecide, lambda m: [m.row], lambda v: RowToDecide(v[0])),
    (RawToDecide, lambda m: [m.fields], lambda v: RawToDecide(v[0])),
)  # fmt: skip
_KIND = {message_type: kind for kind, (message_type, _, _) in enumerate(_MESSAGES)}


class MessageCoder(Coder):
    """The attribution stages' messages, between the stages and in their state: compact JSON
    (``[kind, *fields]``), deterministic, never a pickle."""

    def encode(self, value: Any) -> bytes:
        kind = _KIND[type(value)]
        return orjson.dumps([kind, *_MESSAGES[kind][1](value)])

    def decode(self, encoded: bytes) -> Any:
        kind, *values = orjson.loads(encoded)
        return _MESSAGES[kind][2](values)

    def is_deterministic(self) -> bool:
        return True

    def to_type_hint(self) -> Any:
        return AttributionMessage


beam.coders.registry.register_coder(AttributionMessage, MessageCoder)


class CellCoder(Coder):
    """An identity key's cell entries: its touches (``KeyTouches.to_bytes``, at most one entry)
    and the conversions waiting for the start-up read (``(message, event time micros)``)."""

    _WAITING = TupleCoder((MessageCoder(), VarIntCoder()))

    def encode(self, value: Any) -> bytes:
        if type(value) is bytes:
            return b"T" + value
        return b"W" + self._WAITING.encode(value)

    def decode(self, encoded: bytes) -> Any:
        if encoded[:1] == b"T":
            return encoded[1:]
        return self._WAITING.decode(encoded[1:])

    def is_deterministic(self) -> bool:
        return True


ByIdentity = tuple[IdentityKey, AttributionMessage]  # (identity key, TouchAt | ConversionAt | LinkLookup)
ByEvent = tuple[str, AttributionMessage]  # (event id, DirectFound | LinkedFound | RowToDecide | RawToDecide)

# Runners keep a timer's time in milliseconds (Beam's portable timers): a timer meant to fire
# strictly after a moment is set at the next whole millisecond, else it fires at the moment
# itself, finds nothing to do, and is set again forever.
_MILLISECOND = 1000  # (microseconds)
_START_OF_TIME = Timestamp(micros=MIN_TIMESTAMP.micros + _MILLISECOND)  # the gate: after the table's touches
_ZERO = timedelta(0)


def timer_just_after(moment: datetime) -> Timestamp:
    """The first whole millisecond strictly after ``moment`` (a timer's time, see above)."""
    micros = micros_of(moment)
    return Timestamp(micros=(micros // _MILLISECOND + 1) * _MILLISECOND)


def _read_cell(cell) -> tuple[bytes | None, list[Any]]:
    """A key's cell read: its touches (``KeyTouches.to_bytes``, None if none) and its waiting
    conversions, in arrival order."""
    touches, waiting = None, []
    for entry in cell.read():
        if type(entry) is bytes:
            touches = entry
        else:
            waiting.append(entry)
    return touches, waiting


def _usable(touches: list[Touch], when: datetime, horizon: timedelta) -> tuple[Touch, ...]:
    """The touches a conversion at ``when`` could be attributed to (by time; ``choose`` decides)."""
    return tuple(touch for touch in touches if _ZERO <= when - touch.timestamp <= horizon)


# --------------------------------------------------------------------------- the identity stages


@beam.typehints.with_input_types(ByIdentity)
@beam.typehints.with_output_types(ByEvent)
class _KeyedTouchesFn(StatefulDoFn):
    """Base of the two stages keyed by (app id, identity key): a bounded store of touches
    (:class:`KeyTouches`), the conversions waiting for the start-up read, and their timers.

    Both live in one bag, the key's cell (the touches as one compact entry, each waiting
    conversion as its own): Beam's Python SDK keeps a handle for every declared state of every
    key a bundle touches until the bundle ends (its ``StateKey`` and runtime state, about 1.3 KB
    measured), so one state per key instead of two holds less for a bundle of many keys, such
    as the start-up read's (3.9 -> 3.3 KB a key measured with ``bench/scale.py``'s E)."""

    CELL = BagStateSpec("cell", CellCoder())
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)
    GATE = TimerSpec("gate", TimeDomain.WATERMARK)
    # The stages whose gate opened in this process, by stage: once a gate timer fired, the
    # stage's input watermark has passed the start-up read's touches for good (watermarks only
    # advance), so no key of it waits any more. Shared by every copy of the stage's DoFn here.
    _opened: ClassVar[set[str]] = set()

    def __init__(
        self, windows: dict[str, Windows], max_event_age: timedelta | None, max_touches_per_key: int, gated: bool
    ) -> None:
        self._windows = windows
        # A conversion can be published up to max_event_age after its event time: a touch stays
        # usable for its window after that. Without max_event_age, only the cap bounds a key.
        self._lifetime = (
            {app: w.longest + max_event_age for app, w in windows.items()} if max_event_age is not None else {}
        )
        self._max = max_touches_per_key
        self._stage = uuid.uuid4().hex if gated else None  # (None: nothing to wait for)
        self._cut = Metrics.counter(METRICS_NAMESPACE, "attribution_cut")
        self._expired = Metrics.counter(METRICS_NAMESPACE, "attribution_expired")
        self._entries = Metrics.distribution(METRICS_NAMESPACE, "attribution_key_entries")

    def process(
        self,
        element,
        timestamp=beam.DoFn.TimestampParam,
        cell=beam.DoFn.StateParam(CELL),
        expiry=beam.DoFn.TimerParam(EXPIRY),
        gate=beam.DoFn.TimerParam(GATE),
    ) -> Iterator[Any]:
        (app_id, key), message = element
        if type(message) is TouchAt:
            self._hold(app_id, message, timestamp, cell, expiry)
        elif self._stage is None or self._stage in self._opened:
            yield self._answer(app_id, key, message, KeyTouches.from_bytes(_read_cell(cell)[0]))
        else:  # the start-up read may still hold touches for this key
            cell.add((message, timestamp.micros))
            gate.set(_START_OF_TIME)

    @on_timer(GATE)
    def open_gate(self, key=beam.DoFn.KeyParam, cell=beam.DoFn.StateParam(CELL)) -> Iterator[Any]:
        assert self._stage is not None
        self._opened.add(self._stage)
        app_id, identity = key
        touches, waiting = _read_cell(cell)
        held = KeyTouches.from_bytes(touches)
        for message, micros in waiting:  # (in arrival order)
            yield TimestampedValue(self._answer(app_id, identity, message, held), Timestamp(micros=micros))
        cell.clear()
        if touches is not None:
            cell.add(touches)

    @on_timer(EXPIRY)
    def expire(self, key=beam.DoFn.KeyParam, fired=beam.DoFn.TimestampParam, cell=beam.DoFn.StateParam(CELL),
               expiry=beam.DoFn.TimerParam(EXPIRY)) -> None:  # fmt: skip
        app_id, _ = key
        touches, waiting = _read_cell(cell)
        held = KeyTouches.from_bytes(touches)
        self._expired.inc(held.prune(fired.to_utc_datetime(has_tz=True) - self._lifetime[app_id]))
        self._write(app_id, held, waiting, cell, expiry)

    def _hold(self, app_id: str, message: TouchAt, timestamp: Timestamp, cell, expiry) -> None:
        touches, waiting = _read_cell(cell)
        held = KeyTouches.from_bytes(touches)
        self._cut.inc(held.add(message.touch, message.taught_by, max_per_type=self._max))
        lifetime = self._lifetime.get(app_id)
        if lifetime is not None:  # (the start-up read's touches are stamped at the start of time)
            touch_time = message.touch.timestamp
            now = (
                timestamp.to_utc_datetime(has_tz=True)
                if timestamp > Timestamp.from_utc_datetime(touch_time)
                else touch_time
            )
            self._expired.inc(held.prune(now - lifetime))
        self._write(app_id, held, waiting, cell, expiry)
        self._entries.update(len(held))

    def _write(self, app_id: str, held: KeyTouches, waiting: list[Any], cell, expiry) -> None:
        """Store what the key holds (and its waiting conversions, as they were), and time its
        oldest touch's end (a key with no touch left has no timer)."""
        cell.clear()
        for entry in waiting:
            cell.add(entry)
        oldest = held.oldest()
        if oldest is None:
            expiry.clear()
            return
        cell.add(held.to_bytes())
        lifetime = self._lifetime.get(app_id)
        if lifetime is not None:  # (just after its end: the prune then drops it, and the timer moves on)
            expiry.set(timer_just_after(oldest + lifetime))

    def _answer(self, app_id: str, key: tuple[str, str], message: Any, held: KeyTouches) -> ByEvent:
        raise NotImplementedError


class _DirectTouchesFn(_KeyedTouchesFn):
    """Stage 1: the touches seen under a key; each conversion gets those it could use."""

    def _answer(self, app_id: str, key: tuple[str, str], message: ConversionAt, held: KeyTouches) -> ByEvent:
        found = _usable(held.touches(), message.when, self._windows[app_id].longest)
        return message.event_id, DirectFound(app_id, key, found, message.when, message.key_count)


class _LinkedTouchesFn(_KeyedTouchesFn):
    """Stage 3: the touches learned under a key through other conversions (one hop); a
    conversion never gets back a link it taught itself."""

    def _answer(self, app_id: str, key: tuple[str, str], message: LinkLookup, held: KeyTouches) -> ByEvent:
        found = _usable(held.touches(not_taught_by=message.event_id), message.when, self._windows[app_id].longest)
        return message.event_id, LinkedFound(key, found, message.key_count, message.direct)


# --------------------------------------------------------------------------- the event stages


@beam.typehints.with_input_types(ByEvent)
@beam.typehints.with_output_types(ByIdentity)
class _FirstHopFn(StatefulDoFn):
    """Stage 2, keyed by event id: once every key has answered, the first-hop touch (the best
    direct one) is taught under the conversion's other keys, and each key is asked for links."""

    FOUND = BagStateSpec("found", MessageCoder())

    def __init__(self, windows: dict[str, Windows]) -> None:
        self._windows = windows

    def process(self, element, found=beam.DoFn.StateParam(FOUND)) -> Iterator[ByIdentity]:
        event_id, answer = element
        found.add(answer)
        answers: list[DirectFound] = list(found.read())
        if len(answers) < answer.key_count:
            return
        found.clear()
        app_id, when = answer.app_id, answer.when
        keys = [a.key for a in answers]
        direct = tuple(Candidate(touch, a.key[0]) for a in answers for touch in a.touches)
        first_hop = choose(direct, when, self._windows[app_id])
        for key in links_of(first_hop, keys):
            assert first_hop is not None
            yield (app_id, key), TouchAt(first_hop.touch, event_id)
        for index, key in enumerate(keys):
            yield (app_id, key), LinkLookup(event_id, when, len(keys), direct if index == 0 else None)


@beam.typehints.with_input_types(ByEvent)
@beam.typehints.with_output_types(dict)
class _DecideFn(StatefulDoFn):
    """Stage 4, keyed by event id: the row, each key's links (one of them with the direct
    candidates) and, with ``raw``, the raw message -> the row with its attribution columns.

    A raw message whose row never comes (a repeat that dedup dropped) is cleared ``raw_ttl``
    after it came, by a timer; so is one that comes after its row was decided."""

    PARTS = BagStateSpec("parts", MessageCoder())
    ORPHANS = TimerSpec("orphans", TimeDomain.WATERMARK)

    def __init__(self, windows: dict[str, Windows], raw: bool, raw_ttl: timedelta) -> None:
        self._windows = windows
        self._raw = raw
        self._raw_ttl = raw_ttl
        self._attributed = Metrics.counter(METRICS_NAMESPACE, "attributed")

    def process(self, element, timestamp=beam.DoFn.TimestampParam, parts=beam.DoFn.StateParam(PARTS),
                orphans=beam.DoFn.TimerParam(ORPHANS)) -> Iterator[dict[str, Any]]:  # fmt: skip
        _, part = element
        parts.add(part)
        received = list(parts.read())
        if type(part) is RawToDecide and len(received) == 1:  # (its row may never come)
            orphans.set(timestamp + Duration(micros=micros_in(self._raw_ttl)))
        rows = [p.row for p in received if type(p) is RowToDecide]
        raws = [p.fields for p in received if type(p) is RawToDecide]
        found: list[LinkedFound] = [p for p in received if type(p) is LinkedFound]
        if not rows or not found or len(found) < found[0].key_count or (self._raw and not raws):
            return
        parts.clear()
        row = {**rows[0], **raws[0]} if raws else rows[0]
        when = parse_timestamp(row["timestamp"], "timestamp")
        direct = next(f.direct for f in found if f.direct is not None)
        linked = [Candidate(touch, f.key[0], linked=True) for f in found for touch in f.touches]
        decided = choose([*direct, *linked], when, self._windows[row["app_id"]])
        if decided is None:  # the mapping's row is unattributed
            yield row
        else:
            self._attributed.inc()
            yield {**row, **decided.columns(when)}

    @on_timer(ORPHANS)
    def clear_orphans(self, parts=beam.DoFn.StateParam(PARTS)) -> None:
        if not any(type(p) is RowToDecide for p in parts.read()):  # (a row still waiting keeps its raw)
            parts.clear()


# --------------------------------------------------------------------------- keying


def _fan_out_conversion(row: dict[str, Any]) -> Iterator[ByIdentity]:
    keys = identity_keys(row)
    when = parse_timestamp(row["timestamp"], "timestamp")
    for key in keys:
        yield (row["app_id"], key), ConversionAt(row["id"], when, len(keys))


def _fan_out_touch_row(row: dict[str, Any]) -> Iterator[ByIdentity]:
    """A ``touches`` row under each of its keys: a touch (direct), or a link (one key, its teacher)."""
    touch = Touch.from_row(row)
    message = TouchAt(touch, row.get("taught_by") if row.get("source") == LINK_SOURCE else None)
    for key in touch.keys:
        yield (touch.app_id, key), message


def _is_link(element: ByIdentity) -> bool:
    message = element[1]
    return isinstance(message, TouchAt) and message.taught_by is not None


def _is_touch(element: ByIdentity) -> bool:
    message = element[1]
    return isinstance(message, TouchAt) and message.taught_by is None


def _link_row(element: ByIdentity) -> dict[str, Any]:
    (_, key), message = element
    assert isinstance(message, TouchAt) and message.taught_by is not None
    return message.touch.link_row(key, message.taught_by, datetime.now(UTC))


def touches_usable_from(
    now: datetime, windows: dict[str, Windows], max_event_age: timedelta | None
) -> Iterator[TouchesToRead]:
    """What a streaming job starting at ``now`` reads from ``touches``: per app (with a window),
    the touches a conversion published from now on can still be attributed to (event times up
    to ``max_event_age`` old), up to a day ahead (clock skew)."""
    for app_id, app_windows in sorted(windows.items()):
        if app_windows.longest > _ZERO:
            since = now - app_windows.longest - (max_event_age or _ZERO)
            yield app_id, (micros_of(since), micros_of(now + timedelta(days=1)))


def _touches_at_start(_, windows: dict[str, Windows], max_event_age: timedelta | None) -> Iterator[TouchesToRead]:
    return touches_usable_from(datetime.now(UTC), windows, max_event_age)


def _apps_to_tail(_, windows: dict[str, Windows]) -> Iterator[tuple[str, int]]:
    """Each app with a window, and when the job started (the tail reads what is loaded after)."""
    start = micros_of(datetime.now(UTC))
    return ((app_id, start) for app_id, app_windows in sorted(windows.items()) if app_windows.longest > _ZERO)


class AttributeEvents(beam.PTransform):
    """``{"events": unique events rows, "touches": touches rows[, "raw": (event id, raw message
    fields) of every imported copy]}`` -> ``{"events": the rows with their attribution columns
    (rules §9) and, given "raw", their raw message, "links": the links taught, as touches rows}``.
    ``raw_ttl``: how long a raw message waits for its row (a repeat's never comes).

    ``windows``: each app's windows, by app id. ``read_touches``: a step from
    :data:`transforms.touches_table.TouchesToRead` to touches and link rows (the table's), or
    None to start from the stream's touches only. ``tail_touches``: a step from ``(app id,
    start micros)`` to the rows loaded into the table since (``TailTouchesTable``), or None.
    ``max_touches_per_key``: the bound per identity key and touch type (rules §11)."""

    def __init__(
        self,
        windows: dict[str, Windows],
        max_event_age: timedelta | None,
        read_touches: beam.PTransform | None = None,
        max_touches_per_key: int = DEFAULT_MAX_TOUCHES_PER_KEY,
        tail_touches: beam.PTransform | None = None,
        raw_ttl: timedelta = timedelta(hours=1),
    ) -> None:
        super().__init__()
        self._raw_ttl = raw_ttl
        self._windows = windows
        self._max_event_age = max_event_age
        self._read_touches = read_touches
        self._max = max_touches_per_key
        self._tail_touches = tail_touches

    def _stage(self, fn_class: type[_KeyedTouchesFn]) -> _KeyedTouchesFn:
        return fn_class(self._windows, self._max_event_age, self._max, gated=self._read_touches is not None)

    def expand(self, inputs):
        events, touches = inputs["events"], inputs["touches"]
        to_direct = [
            events | "KeyConversions" >> beam.FlatMap(_fan_out_conversion).with_output_types(ByIdentity),
            touches | "KeyTouches" >> beam.FlatMap(_fan_out_touch_row).with_output_types(ByIdentity),
        ]
        to_linked = []
        start = (
            events.pipeline | "StartOfRun" >> beam.Impulse()
            if self._read_touches is not None or self._tail_touches is not None
            else None
        )
        if self._tail_touches is not None:  # Branch's files loaded while the job runs
            tailed = (
                start
                | "AppsToTail" >> beam.FlatMap(_apps_to_tail, self._windows).with_output_types(tuple[str, int])
                | "TailTouchesTable" >> self._tail_touches
                | "KeyTailedTouches" >> beam.FlatMap(_fan_out_touch_row).with_output_types(ByIdentity)
            )
            to_direct.append(tailed)
        if self._read_touches is not None:
            # Stamped at the start of time (the Impulse's): the gate opens once they are all in state.
            table = (
                start
                | "TouchesToRead" >> beam.FlatMap(_touches_at_start, self._windows, self._max_event_age)
                | "ReadTouchesTable" >> self._read_touches
                | "KeyTableTouches" >> beam.FlatMap(_fan_out_touch_row).with_output_types(ByIdentity)
            )
            to_direct.append(table | "TableTouches" >> beam.Filter(_is_touch).with_output_types(ByIdentity))
            to_linked.append(table | "TableLinks" >> beam.Filter(_is_link).with_output_types(ByIdentity))
        direct = (
            to_direct
            | "ToDirectTouches" >> beam.Flatten().with_output_types(ByIdentity)
            | "DirectTouches" >> beam.ParDo(self._stage(_DirectTouchesFn))
        )
        asked = direct | "FirstHop" >> beam.ParDo(_FirstHopFn(self._windows))
        linked = (
            [asked, *to_linked]
            | "ToLinkedTouches" >> beam.Flatten().with_output_types(ByIdentity)
            | "LinkedTouches" >> beam.ParDo(self._stage(_LinkedTouchesFn))
        )
        rows = events | "KeyRows" >> beam.Map(lambda row: (row["id"], RowToDecide(row))).with_output_types(ByEvent)
        to_decide = [rows, linked]
        if "raw" in inputs:
            to_decide.append(
                inputs["raw"]
                | "KeyRaw"
                >> beam.MapTuple(lambda event_id, fields: (event_id, RawToDecide(fields))).with_output_types(ByEvent)
            )
        decided = (
            to_decide
            | "ToDecide" >> beam.Flatten().with_output_types(ByEvent)
            | "Decide" >> beam.ParDo(_DecideFn(self._windows, "raw" in inputs, self._raw_ttl))
        )
        links = (
            asked
            | "LinksTaught" >> beam.Filter(lambda element: type(element[1]) is TouchAt)
            | "LinkRows" >> beam.Map(_link_row)
        )
        return {"events": decided, "links": links}
