"""Attribution end to end: the streaming job on the emulators attributes every conversion of
the attribution sample exactly as its ground truth says (published in its three phases, after
its Branch export file was loaded into ``touches``), and leaves the random sample's
conversions unattributed."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from tests.support.stack import query_rows
from tools.attribution_sample import attribution_sample
from tools.local_run import check_attribution, load_branch_file, publish_in_phases, streaming_job
from tools.samples import generate_sample


def test_the_streaming_job_attributes_the_sample_as_its_ground_truth_says(bq_client, fresh_dataset,
                                                                         fresh_subscription, tmp_path):  # fmt: skip
    topic, subscription = (path.rsplit("/", 1)[1] for path in fresh_subscription)
    now = datetime.now(UTC)
    sample = attribution_sample(now, instances=2, branch_files=True)
    phases = [sample.touches, sample.teachers, [*generate_sample(120, 5, now), *sample.conversions]]
    load_branch_file(bq_client.project, fresh_dataset, sample, str(tmp_path))
    with streaming_job(bq_client.project, fresh_dataset, subscription):
        accounting = publish_in_phases(bq_client, fresh_dataset, topic, phases, timeout=240)
    assert accounting.consistent(sum(len(phase) for phase in phases)), accounting
    checked, mismatches = check_attribution(bq_client, fresh_dataset, sample.expected)
    assert mismatches == 0
    assert checked >= len(sample.expected)
    assert accounting.attributed == sum(expected.campaign is not None for expected in sample.expected.values()) > 0
    # The analyst views over the same data.
    ds = f"`{bq_client.project}.{fresh_dataset}`"
    by_campaign = {row["campaign"]: row["conversions"] for row in query_rows(bq_client, f"""
        SELECT campaign, SUM(conversions) AS conversions FROM {ds}.daily_attributed_conversions
        WHERE day >= DATE '2000-01-01' GROUP BY campaign""")}  # fmt: skip
    expected = Counter(e.campaign for e in sample.expected.values() if e.campaign is not None)
    assert by_campaign == dict(expected)
    touches = {row["campaign"]: row["touches"] for row in query_rows(bq_client, f"""
        SELECT campaign, SUM(touches) AS touches FROM {ds}.campaign_touches GROUP BY campaign""")}  # fmt: skip
    assert touches["paid_install_0"] == touches["deep_link_1"] == touches["branch_file_1"] == 1
    assert len(touches) == len(sample.touches) + len(sample.export_rows)  # the stream's and the file's
