# Promotion and soak gates: may a model version move towards production?
#
# data.sentimentops.gates.evaluation  input: {task, candidate: {metric: number}}
#   the candidate's own quality: metric floors per task, robustness flip rate, latency.
# data.sentimentops.gates.promotion   input: {task, candidate: {...}, production: {...} | null}
#   the evaluation gates plus "no regression beyond a tolerance" against production.
# data.sentimentops.gates.soak        input: {volume, error_rate, latency_p95_ms} (null: unknown)
#   the canary's service metrics over the soak period.
# data.sentimentops.gates.drift       input: {current_volume, reference_volume, psi: {...}}
#   traffic drift between two windows; answers {drifted: bool, reasons: [string]}.
#
# The others answer {passed: bool, reasons: [string]}. Thresholds live in config/data.json.
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

drift_reasons contains msg if {
	input.current_volume >= drift_config.min_volume
	input.reference_volume >= drift_config.min_volume
	some name, value in input.psi
	is_number(value)
	value > drift_config.psi_alert
	msg := sprintf("PSI of %v is %v (> %v)", [name, value, drift_config.psi_alert])
}

drift := {"drifted": count(drift_reasons) > 0, "reasons": sort(drift_reasons)}
