# Who may call which typed tool, and which calls must wait for a human approval.
#
# Input:
#   principal: {subject, kind: "human" | "agent", roles: [string], tenant}
#   tenant:    the tenant the call acts on
#   tool:      the tool's name (see tools/)
#   params:    the tool's arguments (only the ones policies look at are read)
#
# Output (data.sentimentops.tools.decision):
#   {allow: bool, needs_approval: bool, reasons: [string]}
# "allow" answers "may this principal call this tool here at all"; "needs_approval" says the call
# must wait for a human approval bound to the plan even when allowed.
package sentimentops.tools

import rego.v1

config := data.sentimentops.config

roles := {role | some role in input.principal.roles}

granted if {
	some role in roles
	input.tool in config.role_tools[role]
}

granted if {
	some role in roles
	role in config.cross_tenant_roles
}

same_tenant if input.principal.tenant == input.tenant

cross_tenant_allowed if {
	some role in roles
	role in config.cross_tenant_roles
}

default allow := false

allow if {
	granted
	same_tenant
	not agent_rate_limited
}

allow if {
	granted
	cross_tenant_allowed
	not agent_rate_limited
}

# Agents act at machine speed: past a budget of tool calls per hour (counted by the caller from
# the audit log and passed as input.context) every further call is refused until the window
# moves on, so a looping or manipulated agent cannot flood the lifecycle.
agent_rate_limited if {
	input.principal.kind == "agent"
	object.get(input, ["context", "agent_actions_last_hour"], 0) >= config.agent_max_actions_per_hour
}

deny_reasons contains msg if {
	agent_rate_limited
	msg := sprintf("agent %v reached its limit of %v tool calls per hour", [input.principal.subject, config.agent_max_actions_per_hour])
}

deny_reasons contains msg if {
	not granted
	msg := sprintf("no role of %v may call %v", [input.principal.subject, input.tool])
}

deny_reasons contains msg if {
	not same_tenant
	not cross_tenant_allowed
	msg := sprintf("%v belongs to tenant %v, not %v", [input.principal.subject, input.principal.tenant, input.tenant])
}

approval_reasons contains msg if {
	input.tool in config.approval_required_tools
	msg := sprintf("%v always needs a human approval", [input.tool])
}

approval_reasons contains msg if {
	input.tool == "promote_model"
	input.params.target in config.approval_required_promotion_targets
	msg := sprintf("promotion to %v needs a human approval", [input.params.target])
}

# Rolling back one version is the routine undo and runs without waiting; reaching further back
# skips versions nobody re-validated, so a human must agree.
approval_reasons contains msg if {
	input.tool == "rollback_model"
	steps := object.get(input.params, "steps", 1)
	steps > config.rollback_max_steps_without_approval
	msg := sprintf("rolling back %v versions needs a human approval", [steps])
}

approval_reasons contains msg if {
	input.principal.kind == "agent"
	not input.tool in config.agent_safe_tools
	not agent_routine_rollback
	msg := sprintf("agents may call %v only with a human approval", [input.tool])
}

# The deployment sentry's undo: an agent may roll back as far as a human may without approval
# (design card: a human must agree before rolling back beyond one step).
agent_routine_rollback if {
	input.tool == "rollback_model"
	object.get(input.params, "steps", 1) <= config.rollback_max_steps_without_approval
}

default needs_approval := false

needs_approval if count(approval_reasons) > 0

default decision := {"allow": false, "needs_approval": false, "reasons": ["no decision"]}

decision := {"allow": true, "needs_approval": needs_approval, "reasons": sort(approval_reasons)} if allow

decision := {"allow": false, "needs_approval": false, "reasons": sort(deny_reasons)} if not allow
