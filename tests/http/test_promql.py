"""The PromQL name extraction the Grafana dashboard test relies on."""

from __future__ import annotations

from promql import exported_names, expressions, metric_names


def test_metric_names_skip_functions_labels_clauses_and_variables() -> None:
    expr = ('histogram_quantile(0.99, sum by (le, route) (rate(roost_http_request_seconds_bucket'
            '{instance=~"$instance", route="/v1/kv/{key}"}[$__rate_interval])))')
    assert metric_names(expr) == {"roost_http_request_seconds_bucket"}
    expr = 'roost_raft_commit_index{a="b"} - on (instance) roost_raft_applied_index / 1e9'
    assert metric_names(expr) == {"roost_raft_commit_index", "roost_raft_applied_index"}
    assert metric_names("label_values(roost_build_info, instance)") == {"roost_build_info"}
    assert metric_names("sum(rate(bogus_total[5m])) by (op)") == {"bogus_total"}


def test_expressions_and_exported_names() -> None:
    dash = {"panels": [{"type": "row", "panels": [{"targets": [{"expr": "a"}]}]},
                       {"targets": [{"expr": "b"}, {"expr": "c"}]}],
            "templating": {"list": [{"type": "query", "query": {"query": "d"}},
                                    {"type": "datasource", "query": "prometheus"}]}}
    assert list(expressions(dash)) == ["a", "b", "c", "d"]
    text = ("# TYPE x counter\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n"
            "h_sum 0.5\n# TYPE g gauge\ng 3\n")
    assert exported_names(text) == {"x_total", "h_bucket", "h_count", "h_sum", "g"}
