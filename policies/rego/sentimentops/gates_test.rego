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
	r := gates.evaluation with input as {"task": "sarcasm", "candidate": object.union(good, {"test_accuracy": 0.5})}
	not r.passed
	r.reasons == ["test_accuracy 0.5 is below the floor 0.55 for sarcasm"]
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

# A sarcasm model evaluated per domain that clears every floor.
sarcasm_domains := [
	"headlines", "figlang_tweets", "figlang_reddit", "riloff_tweets", "hashtag_tweets",
	"debate_forums", "reddit_politics", "sign_rewrites", "ptacek_tweets",
]

domain_good := object.union(good, object.union(
	{sprintf("domain_%v_macro_f1", [d]): 0.7 | some d in sarcasm_domains},
	{"domain_headlines_macro_f1": 0.9, "worst_domain_macro_f1": 0.7},
))

test_candidate_clearing_domain_floors_passes if {
	gates.evaluation == {"passed": true, "reasons": []} with input as {"task": "sarcasm", "candidate": domain_good}
}

test_domain_metric_below_floor_fails if {
	r := gates.evaluation with input as {"task": "sarcasm", "candidate": object.union(domain_good, {"domain_figlang_tweets_macro_f1": 0.45})}
	not r.passed
	r.reasons == ["domain_figlang_tweets_macro_f1 0.45 is below the floor 0.5 for sarcasm/figlang_tweets"]
}

test_headlines_have_their_own_floor if {
	r := gates.evaluation with input as {"task": "sarcasm", "candidate": object.union(domain_good, {"domain_headlines_macro_f1": 0.52})}
	r.reasons == ["domain_headlines_macro_f1 0.52 is below the floor 0.55 for sarcasm/headlines"]
}

test_missing_domain_metric_fails if {
	r := gates.evaluation with input as {"task": "sarcasm", "candidate": object.remove(domain_good, ["domain_ptacek_tweets_macro_f1"])}
	not r.passed
	r.reasons == ["the candidate has no domain_ptacek_tweets_macro_f1 metric"]
}

test_worst_domain_below_floor_fails if {
	r := gates.evaluation with input as {"task": "sarcasm", "candidate": object.union(domain_good, {"worst_domain_macro_f1": 0.45})}
	not r.passed
	r.reasons == ["worst_domain_macro_f1 0.45 is below the floor 0.5 for sarcasm"]
}

test_missing_worst_domain_metric_fails if {
	r := gates.evaluation with input as {"task": "sarcasm", "candidate": object.remove(domain_good, ["worst_domain_macro_f1"])}
	r.reasons == ["the candidate has no worst_domain_macro_f1 metric"]
}

test_sentiment_domain_floors if {
	candidate := object.union(
		{"test_accuracy": 0.9, "test_macro_f1": 0.9, "worst_domain_accuracy": 0.65},
		{"domain_imdb_accuracy": 0.78, "domain_sst_accuracy": 0.8, "domain_rt_snippets_accuracy": 0.8},
	)
	r := gates.evaluation with input as {"task": "sentiment", "candidate": candidate}
	r.reasons == [
		"domain_imdb_accuracy 0.78 is below the floor 0.8 for sentiment/imdb",
		"the candidate has no domain_airline_tweets_accuracy metric",
		"the candidate has no domain_news_phrases_accuracy metric",
		"the candidate has no domain_product_reviews_accuracy metric",
		"the candidate has no domain_reddit_comments_accuracy metric",
		"the candidate has no domain_semeval_tweets_accuracy metric",
		"worst_domain_accuracy 0.65 is below the floor 0.7 for sentiment",
	]
}

test_no_domain_metrics_keeps_the_old_gates if {
	# good has no domain_* metric: a single-source model, judged by the metric floors alone.
	gates.evaluation == {"passed": true, "reasons": []} with input as {"task": "sarcasm", "candidate": good}
	r := gates.promotion with input as {"task": "sarcasm", "candidate": good, "production": domain_good}
	r.passed
}

test_domain_regression_refused_on_promotion if {
	# Better on headlines, worse on tweets: above every floor, so evaluation passes.
	candidate := object.union(domain_good, {"domain_headlines_macro_f1": 0.93, "domain_figlang_tweets_macro_f1": 0.6})
	production := object.union(domain_good, {"domain_figlang_tweets_macro_f1": 0.7})
	gates.evaluation.passed with input as {"task": "sarcasm", "candidate": candidate}
	r := gates.promotion with input as {"task": "sarcasm", "candidate": candidate, "production": production}
	not r.passed
	r.reasons == ["domain_figlang_tweets_macro_f1 0.6 regresses more than 0.02 from production's 0.7"]
}

test_domain_regression_within_tolerance_passes if {
	candidate := object.union(domain_good, {"domain_figlang_tweets_macro_f1": 0.69})
	r := gates.promotion with input as {"task": "sarcasm", "candidate": candidate, "production": domain_good}
	r.passed
}

test_domain_regression_ignores_domains_production_lacks if {
	production := object.remove(domain_good, ["domain_figlang_tweets_macro_f1"])
	candidate := object.union(domain_good, {"domain_figlang_tweets_macro_f1": 0.56})
	r := gates.promotion with input as {"task": "sarcasm", "candidate": candidate, "production": production}
	r.passed
}

test_domain_regression_only_on_configured_metrics if {
	candidate := object.union(domain_good, {"domain_figlang_tweets_roc_auc": 0.5})
	production := object.union(domain_good, {"domain_figlang_tweets_roc_auc": 0.9})
	r := gates.promotion with input as {"task": "sarcasm", "candidate": candidate, "production": production}
	r.passed
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
	gates.drift == {"drifted": false, "reasons": [], "enough_traffic": true, "min_volume": 50} with input as {"current_volume": 100, "reference_volume": 500, "psi": {"score": 0.05, "label": 0.01, "length": 0.1}}
}

test_too_little_traffic_is_not_drift if {
	r := gates.drift with input as {"current_volume": 10, "reference_volume": 500, "psi": {"score": 3}}
	not r.drifted
}

test_production_without_a_comparable_metric_fails_closed if {
	r := gates.promotion with input as {"task": "sarcasm", "candidate": good, "production": {}}
	not r.passed
	r.reasons == ["production's record has no metric to compare the candidate with: evaluate production first"]
}

test_domain_metrics_alone_are_comparable if {
	domains := {"domain_headlines_macro_f1": 0.8}
	r := gates.promotion with input as {"task": "sentiment", "candidate": object.union(good, domains), "production": domains}
	not "production's record has no metric to compare the candidate with: evaluate production first" in r.reasons
}

test_no_verdict_on_too_little_traffic if {
	r := gates.drift with input as {"current_volume": 10, "reference_volume": 500, "psi": {"score": 0.9, "label": 0.9, "length": 0.9}}
	not r.drifted
	not r.enough_traffic
	r.min_volume == 50
}

# --- Feedback accuracy (the sentry's gate) -----------------------------------------------------

test_feedback_accuracy_above_the_floor_passes if {
	gates.feedback == {"passed": true, "reasons": [], "enough_feedback": true, "min_volume": 30, "min_accuracy": 0.6} with input as {"labelled": 40, "accuracy": 0.9}
}

test_feedback_accuracy_below_the_floor_fails if {
	r := gates.feedback with input as {"labelled": 40, "accuracy": 0.5}
	not r.passed
	r.reasons == ["accuracy on 40 labelled answers is 0.5 (< 0.6)"]
}

test_feedback_accuracy_at_the_floor_passes if {
	r := gates.feedback with input as {"labelled": 30, "accuracy": 0.6}
	r.passed
	r.enough_feedback
}

test_too_little_feedback_passes_with_a_reason if {
	r := gates.feedback with input as {"labelled": 29, "accuracy": 0.1}
	r.passed
	not r.enough_feedback
	r.reasons == ["only 29 labelled answers in the window; at least 30 needed to judge accuracy"]
}

test_no_feedback_at_all_passes_with_a_reason if {
	r := gates.feedback with input as {"labelled": 0, "accuracy": null}
	r.passed
	not r.enough_feedback
}
