"""Provisioning order: BigQuery refuses a view over a table or view that does not exist yet."""
from segment_branch.provision import _views_in_dependency_order


def test_every_view_is_created_after_the_views_it_reads():
    order = [path.stem for path in _views_in_dependency_order()]
    assert order, "no views found"
    for position, path in enumerate(_views_in_dependency_order()):
        text = path.read_text()
        later = order[position + 1:]
        assert not [name for name in later if f"{{dataset}}.{name}" in text], path.stem
    assert order.index("events_dedup") < order.index("daily_revenue")
