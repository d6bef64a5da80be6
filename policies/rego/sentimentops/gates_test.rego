package sentimentops.gates_test

import rego.v1

import data.sentimentops.gates

good := {
	"test_accuracy": 0.88, "test_macro_f1": 0.87,
	"flip_rate_typos": 0.04, "flip_rate_homoglyphs": 0.08,
}

test_good_candidate_passes_evaluation if {
	gates.evaluation == {"passed": true, "reasons": []} with input as {"task": "sarcasm", "candidate": good}
}

test_metric_below_floor_fails if {
	r := gates.evaluation with input as {"task": "sarcasm", "candidate": object.union(good, {"test_accuracy": 0.7})}
	not r.passed
	r.reasons == ["test_accuracy 0.7 is below the floor 0.78 for sarcasm"]
}

test_missing_metric_fails if {
	r := gates.evaluation with input as {"task": "sarcasm", "candidate": {"test_accuracy": 0.9}}
	r.reasons == ["the candidate has no test_macro_f1 metric"]
}

test_unknown_task_fails if {
	r := gates.evaluation with input as {"task": "emotion", "candidate": good}
	r.reasons == ["no metric floors are defined for task emotion"]
}

test_flip_rate_bound if {
	r := gates.evaluation with input as {"task": "sarcasm", "candidate": object.union(good, {"flip_rate_typos": 0.3})}
	r.reasons == ["flip_rate_typos 0.3 exceeds the robustness bound 0.15"]
}

test_latency_bound if {
	r := gates.evaluation with input as {"task": "sarcasm", "candidate": object.union(good, {"latency_p95_ms": 35})}
	r.reasons == ["P95 latency 35 ms exceeds the bound 20 ms"]
}

test_promotion_without_production_uses_quality_gates if {
	r := gates.promotion with input as {"task": "sarcasm", "candidate": good, "production": null}
	r.passed
}

test_small_regression_within_tolerance_passes if {
	r := gates.promotion with input as {"task": "sarcasm", "candidate": good, "production": object.union(good, {"test_accuracy": 0.885})}
	r.passed
}

test_regression_beyond_tolerance_fails if {
	r := gates.promotion with input as {"task": "sarcasm", "candidate": good, "production": object.union(good, {"test_accuracy": 0.9})}
	not r.passed
	r.reasons == ["test_accuracy 0.88 regresses more than 0.01 from production's 0.9"]
}

test_promotion_includes_quality_failures if {
	r := gates.promotion with input as {"task": "sarcasm", "candidate": object.union(good, {"test_accuracy": 0.5}), "production": null}
	not r.passed
}

test_quiet_soak_passes if {
	gates.soak == {"passed": true, "reasons": []} with input as {"volume": 0, "error_rate": null, "latency_p95_ms": null}
}

test_soak_error_rate_bound if {
	r := gates.soak with input as {"volume": 100, "error_rate": 0.05, "latency_p95_ms": 3}
	r.reasons == ["error rate 0.05 exceeds 0.01"]
}

test_soak_latency_bound if {
	r := gates.soak with input as {"volume": 100, "error_rate": 0, "latency_p95_ms": 80}
	r.reasons == ["P95 latency 80 ms exceeds 50 ms"]
}

test_soak_minimum_volume if {
	r := gates.soak with input as {"volume": 3, "error_rate": 0, "latency_p95_ms": 1}
		with data.sentimentops.config.soak_gates as {"min_volume": 10, "max_error_rate": 0.01, "max_latency_p95_ms": 50}
	r.reasons == ["only 3 predictions during the soak; at least 10 needed"]
}

test_drift_above_threshold if {
	r := gates.drift with input as {"current_volume": 100, "reference_volume": 500, "psi": {"score": 0.35, "label": 0.01, "length": null}}
	r.drifted
	r.reasons == ["PSI of score is 0.35 (> 0.2)"]
}

test_no_drift_below_threshold if {
	gates.drift == {"drifted": false, "reasons": []} with input as {"current_volume": 100, "reference_volume": 500, "psi": {"score": 0.05, "label": 0.01, "length": 0.1}}
}

test_too_little_traffic_is_not_drift if {
	r := gates.drift with input as {"current_volume": 10, "reference_volume": 500, "psi": {"score": 3}}
	not r.drifted
}
