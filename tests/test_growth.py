"""A larger version of the same factory keeps every existing name, port, address, ASN and cable."""

from tests.conftest import make
from tokenfab import plan
from tokenfab.report.diff import diff_fabrics


def test_growth_within_planned_maximum_has_no_churn():
    base = {"gpus_per_server": 8}
    small = plan(make(cluster={"servers": 128, **base}, fabric={"max_servers": 512}))
    large = plan(make(cluster={"servers": 384, **base}, fabric={"max_servers": 512}))
    d = diff_fabrics(small, large)
    assert d.churn == 0
    assert len(d.added["devices"]) > 0 and len(d.added["links"]) > 0


def test_growth_to_more_pods_has_no_churn():
    base = {"gpus_per_server": 8}
    fab = {"tiers": 3, "max_servers": 2048}
    d = diff_fabrics(
        plan(make(cluster={"servers": 512, **base}, fabric=fab)), plan(make(cluster={"servers": 1536, **base}, fabric=fab))
    )
    assert d.churn == 0 and d.added["devices"]


def test_unplanned_growth_reports_churn():
    small = plan(make(cluster={"servers": 64, "gpus_per_server": 8}))
    large = plan(make(cluster={"servers": 256, "gpus_per_server": 8}))
    assert diff_fabrics(small, large).churn > 0
