# Promotion and soak gates: may a model version move towards production?
#
# data.sentimentops.gates.evaluation  input: {task, candidate: {metric: number}}
#   the candidate's own quality: metric floors per task, robustness flip rate, latency, and,
#   for a model evaluated per domain, per-domain and worst-domain floors.
# data.sentimentops.gates.promotion   input: {task, candidate: {...}, production: {...} | null}
#   the evaluation gates plus "no regression beyond a tolerance" against production, overall
#   and in every domain both versions were evaluated on.
# data.sentimentops.gates.soak        input: {volume, error_rate, latency_p95_ms} (null: unknown)
#   the canary's service metrics over the soak period.
# data.sentimentops.gates.drift       input: {current_volume, reference_volume, psi: {...}}
#   traffic drift between two windows; answers {drifted: bool, reasons: [string],
#   enough_traffic: bool, min_volume: number}.
# data.sentimentops.gates.feedback    input: {labelled, accuracy: number | null}
#   the served version's accuracy on the labels given to its answers (feedback, labelling);
#   answers {passed, reasons, enough_feedback: bool, min_volume, min_accuracy}.
#
# The others answer {passed: bool, reasons: [string]}. Thresholds live in config/data.json.
#
# Per-domain gates (promotion_gates in data.json). Training logs domain_<domain>_<metric> for
# every domain (data source) of the task's test data, worst_domain_<metric> (the minimum over
# domains) and max_domain_ece; the pooled test_* metrics can hide a model that is excellent on
# one source and useless on another, and these gates are what refuse it.
# - domain_floors {task: {domain: {metric: floor}}}: each domain's own minimum, set so that the
#   general tfidf_lr baseline still passes (policies/README.md): sarcasm macro-F1 0.55 on
#   headlines and 0.50 elsewhere (weak-label tweet and Reddit sets); sentiment accuracy 0.80 on
#   IMDB and 0.70 elsewhere. They catch broken models; max_domain_regression keeps worse ones out.
# - worst_domain_floors {task: {worst_domain_<metric>: floor}}: a bar for whichever domain is
#   worst, which also covers domains no per-domain floor names (sarcasm macro-F1 0.50,
#   sentiment accuracy 0.70).
# - max_domain_regression {metric: tolerance}: promotion refuses a candidate that loses more
#   than the tolerance in any one domain against production, even if it wins elsewhere. Only
#   for metrics where higher is better (not ece).
# A candidate with no domain_* metric at all (a model trained and evaluated on one source,
# before per-domain evaluation) is judged by the metric floors alone; one that has them must
# have every metric a floor names, so a missing domain is never a silent pass.
package sentimentops.gates

import rego.v1

gates := data.sentimentops.config.promotion_gates

soak_config := data.sentimentops.config.soak_gates

quality_failures contains msg if {
	not gates.metric_floors[input.task]
	msg := sprintf("no metric floors are defined for task %v", [input.task])
}

quality_failures contains msg if {
	some metric, _ in gates.metric_floors[input.task]
	object.get(input.candidate, metric, null) == null
	msg := sprintf("the candidate has no %v metric", [metric])
}

quality_failures contains msg if {
	some metric, floor in gates.metric_floors[input.task]
	value := input.candidate[metric]
	is_number(value)
	value < floor
	msg := sprintf("%v %v is below the floor %v for %v", [metric, value, floor, input.task])
}

quality_failures contains msg if {
	some name, rate in input.candidate
	startswith(name, "flip_rate_")
	rate > gates.max_flip_rate
	msg := sprintf("%v %v exceeds the robustness bound %v", [name, rate, gates.max_flip_rate])
}

quality_failures contains msg if {
	latency := input.candidate.latency_p95_ms
	latency > gates.max_latency_p95_ms
	msg := sprintf("P95 latency %v ms exceeds the bound %v ms", [latency, gates.max_latency_p95_ms])
}

# Any per-domain metric at all marks a model evaluated per domain (see the header).
has_domain_metrics if {
	some name, _ in input.candidate
	startswith(name, "domain_")
}

domain_floors := object.get(object.get(gates, "domain_floors", {}), input.task, {})

worst_domain_floors := object.get(object.get(gates, "worst_domain_floors", {}), input.task, {})

quality_failures contains msg if {
	has_domain_metrics
	some domain, floors in domain_floors
	some metric, _ in floors
	name := sprintf("domain_%v_%v", [domain, metric])
	object.get(input.candidate, name, null) == null
	msg := sprintf("the candidate has no %v metric", [name])
}

quality_failures contains msg if {
	some domain, floors in domain_floors
	some metric, floor in floors
	name := sprintf("domain_%v_%v", [domain, metric])
	value := input.candidate[name]
	is_number(value)
	value < floor
	msg := sprintf("%v %v is below the floor %v for %v/%v", [name, value, floor, input.task, domain])
}

quality_failures contains msg if {
	has_domain_metrics
	some metric, _ in worst_domain_floors
	object.get(input.candidate, metric, null) == null
	msg := sprintf("the candidate has no %v metric", [metric])
}

quality_failures contains msg if {
	has_domain_metrics
	some metric, floor in worst_domain_floors
	value := input.candidate[metric]
	is_number(value)
	value < floor
	msg := sprintf("%v %v is below the floor %v for %v", [metric, value, floor, input.task])
}

regression_failures contains msg if {
	some metric, tolerance in gates.max_regression
	candidate := input.candidate[metric]
	production := input.production[metric]
	candidate < production - tolerance
	msg := sprintf(
		"%v %v regresses more than %v from production's %v",
		[metric, candidate, tolerance, production],
	)
}

# Only domains both versions were evaluated on: a domain new to the candidate has no baseline,
# and one the candidate lacks is the domain floors' concern, not a regression.
regression_failures contains msg if {
	some metric, tolerance in object.get(gates, "max_domain_regression", {})
	suffix := sprintf("_%v", [metric])
	some name, candidate in input.candidate
	startswith(name, "domain_")
	endswith(name, suffix)
	production := input.production[name]
	is_number(candidate)
	is_number(production)
	candidate < production - tolerance
	msg := sprintf(
		"%v %v regresses more than %v from production's %v",
		[name, candidate, tolerance, production],
	)
}

# Fail closed: a production version whose record shares no gated metric with the candidate (an
# import that logged none, a run whose metrics were lost) gives the comparison nothing to refuse
# on, and every candidate would pass. Either version may lack some metrics; not all of them.
comparable contains metric if {
	some metric, _ in gates.max_regression
	is_number(object.get(input.candidate, metric, null))
	is_number(object.get(input.production, metric, null))
}

comparable contains name if {
	some metric, _ in object.get(gates, "max_domain_regression", {})
	some name, value in input.production
	startswith(name, "domain_")
	endswith(name, sprintf("_%v", [metric]))
	is_number(value)
	is_number(object.get(input.candidate, name, null))
}

regression_failures contains msg if {
	is_object(input.production)
	count(comparable) == 0
	msg := "production's record has no metric to compare the candidate with: evaluate production first"
}

evaluation := {"passed": count(quality_failures) == 0, "reasons": sort(quality_failures)}

promotion_failures := quality_failures | regression_failures

promotion := {"passed": count(promotion_failures) == 0, "reasons": sort(promotion_failures)}

soak_failures contains msg if {
	input.volume < soak_config.min_volume
	msg := sprintf("only %v predictions during the soak; at least %v needed", [input.volume, soak_config.min_volume])
}

soak_failures contains msg if {
	is_number(input.error_rate)
	input.error_rate > soak_config.max_error_rate
	msg := sprintf("error rate %v exceeds %v", [input.error_rate, soak_config.max_error_rate])
}

soak_failures contains msg if {
	is_number(input.latency_p95_ms)
	input.latency_p95_ms > soak_config.max_latency_p95_ms
	msg := sprintf("P95 latency %v ms exceeds %v ms", [input.latency_p95_ms, soak_config.max_latency_p95_ms])
}

soak := {"passed": count(soak_failures) == 0, "reasons": sort(soak_failures)}

# Too little traffic in either window makes PSI noise, not drift.
drift_config := data.sentimentops.config.drift

default drift_enough_traffic := false

drift_enough_traffic if {
	input.current_volume >= drift_config.min_volume
	input.reference_volume >= drift_config.min_volume
}

drift_reasons contains msg if {
	drift_enough_traffic
	some name, value in input.psi
	is_number(value)
	value > drift_config.psi_alert
	msg := sprintf("PSI of %v is %v (> %v)", [name, value, drift_config.psi_alert])
}

drift := {
	"drifted": count(drift_reasons) > 0,
	"reasons": sort(drift_reasons),
	# False: a window had fewer than min_volume predictions, so no verdict was possible.
	"enough_traffic": drift_enough_traffic,
	"min_volume": drift_config.min_volume,
}

# Feedback accuracy (the sentry's gate). Applications send feedback mostly when an answer was
# wrong, so accuracy on it understates the model's: min_accuracy is a floor that catches a broken
# or badly drifted model, not a small regression (that is the promotion gates' job). Too few
# labelled texts is no verdict: the gate passes and says so, as the drift gate does.
feedback_config := data.sentimentops.config.feedback

default feedback_enough := false

feedback_enough if input.labelled >= feedback_config.min_volume

feedback_failures contains msg if {
	feedback_enough
	is_number(input.accuracy)
	input.accuracy < feedback_config.min_accuracy
	msg := sprintf(
		"accuracy on %v labelled answers is %v (< %v)",
		[input.labelled, input.accuracy, feedback_config.min_accuracy],
	)
}

feedback_notes contains msg if {
	not feedback_enough
	msg := sprintf(
		"only %v labelled answers in the window; at least %v needed to judge accuracy",
		[input.labelled, feedback_config.min_volume],
	)
}

feedback := {
	"passed": count(feedback_failures) == 0,
	"reasons": sort(feedback_failures | feedback_notes),
	"enough_feedback": feedback_enough,
	"min_volume": feedback_config.min_volume,
	"min_accuracy": feedback_config.min_accuracy,
}
