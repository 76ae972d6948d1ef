"""Attribution's cost per conversion and its state per identity key, measured (not estimated).

    .venv/bin/python -m bench.attribution [--conversions 100000]

- decision: the in-memory state (``AttributionState.attribute``, what every stage's decision
  calls) over conversions of the benchmark corpus, with the attribution sample's touches and
  links in the state: microseconds per conversion, one core.
- state: the encoded size, as the stateful stages store them, of one touch in DirectTouches
  and one link in LinkedTouches (``KeyTouches.to_bytes``), one key (Beam's key coder), and
  one event's transient entries in FirstHop and Decide (``MessageCoder``).
- table touches: the memory of one touch read back from the ``touches`` table (a ``Touch``
  made from its row, what the jobs' side input or replay holds), measured with tracemalloc.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from datetime import UTC, datetime

from apache_beam.coders import FastPrimitivesCoder

from domain.attribution import AttributionState, Candidate, KeyTouches, choose
from domain.config import load_config
from domain.mapping import ImportSettings, process_message
from domain.touches import Touch, identity_keys
from tools.attribution_sample import attribution_sample
from tools.samples import generate_corpus
from transforms.streaming_attribution import DirectFound, MessageCoder, RowToDecide


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversions", type=int, default=100_000)
    args = parser.parse_args(argv)
    now = datetime.now(UTC)
    settings = ImportSettings(load_config(), max_event_age=None)
    windows = settings.windows["local-app"]

    rows = [r.row for r in (process_message(d, None, None, settings, now) for d in generate_corpus(args.conversions, 3, now))
            if r.row is not None]  # fmt: skip
    conversions = [(identity_keys(row), datetime.fromisoformat(row["timestamp"])) for row in rows]
    sample = attribution_sample(now, instances=50)
    touches = [r.touch for r in (process_message(m.data, None, None, settings, now) for m in sample.touches)
               if r.touch is not None]  # fmt: skip

    rates = []
    for _ in range(3):
        state = AttributionState()
        for touch in touches:
            state.add_touch(touch)
        started = time.perf_counter()
        for keys, when in conversions:
            state.attribute("local-app", keys, when, windows)
        rates.append((time.perf_counter() - started) / len(conversions) * 1e6)
    with_touch = [Candidate(touch, "developer_identity") for touch in touches[:3]]
    started = time.perf_counter()
    for _ in range(20_000):
        choose(with_touch, now, windows)
    choose_us = (time.perf_counter() - started) / 20_000 * 1e6

    coder, key_coder = MessageCoder(), FastPrimitivesCoder().as_deterministic_coder("key")
    touch_bytes = statistics.median(len(KeyTouches([(touch, None)]).to_bytes()) for touch in touches)
    link_bytes = statistics.median(len(KeyTouches([(touch, "0" * 32)]).to_bytes()) for touch in touches)
    key_bytes = statistics.median(
        len(key_coder.encode(("local-app", key))) for keys, _ in conversions[:1000] for key in keys
    )
    first_hop = statistics.median(len(coder.encode(DirectFound("local-app", key, (), now, len(keys))))
                                  for keys, _ in conversions[:1000] for key in keys)  # fmt: skip
    decide = statistics.median(len(coder.encode(RowToDecide(row))) for row in rows[:1000])
    table_rows = [touch.row(now) for touch in touches]
    tracemalloc.start()
    held = [Touch.from_row(row) for row in table_rows]
    table_touch_bytes = tracemalloc.get_traced_memory()[0] / len(held)
    tracemalloc.stop()
    print(
        f"ATTRIBUTION_BENCH conversions={len(conversions)} touches={len(touches)} "
        f"decision_us={min(rates):.2f} choose_3_candidates_us={choose_us:.2f} "
        f"touch_state_bytes={touch_bytes:.0f} link_state_bytes={link_bytes:.0f} key_bytes={key_bytes:.0f} "
        f"first_hop_entry_bytes={first_hop:.0f} decide_row_entry_bytes={decide:.0f} "
        f"table_touch_memory_bytes={table_touch_bytes:.0f}"
    )


if __name__ == "__main__":
    main()
