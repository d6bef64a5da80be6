# Who may call which typed tool, and which calls must wait for a human approval.
#
# Input:
#   principal: {subject, kind: "human" | "agent", roles: [string], tenant, agent?}
#              agent: which of the platform's LangGraph agents acts ("planner",
#              "training-executor", "deployment-sentry", "data-curation"); null or absent for everyone else,
#              the deployment sentry *workflow* included
#   tenant:    the tenant the call acts on
#   tool:      the tool's name (see tools/)
#   params:    the tool's arguments (only the ones policies look at are read)
#   context:   facts the caller looked up (every key optional):
#              agent_actions_last_hour: the agent's tool calls in the last hour (audit log)
#              plan_hash: the hash of the plan the call is a step of
#              plan_approved_by: [{approver, plan_hash}], the approvals the plan workflow
#                received (approver as the audit log names it: "human:bob", "agent:…")
#              requested_by: who asked the agent for the plan (audit actor), or null
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
	not agent_promotion_forbidden
}

allow if {
	granted
	cross_tenant_allowed
	not agent_rate_limited
	not agent_promotion_forbidden
}

# The principal's agent name; null for people, services and the sentry workflow.
agent_name := object.get(input.principal, "agent", null)

# Some agents may never move an alias to some targets, with or without approval (the seed: the
# training executor "can only promote to Staging automatically"; production stays a person's
# plan).
agent_promotion_forbidden if {
	input.tool == "promote_model"
	object.get(input.params, "target", null) in object.get(config.agent_denied_promotion_targets, agent_name, [])
}

deny_reasons contains msg if {
	agent_promotion_forbidden
	msg := sprintf("the %v agent may never promote to %v", [agent_name, input.params.target])
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

# Every agent plan is approved by a human before any of its steps changes state: an agent reads
# on its own, but a tool off agent_read_only_tools waits until a person approved this very plan
# (its hash). One approval covers the plan's later steps; the reasons above still ask again
# where they apply, since a person approving "the plan" may not have weighed a production
# promotion on its own.
approval_reasons contains msg if {
	input.principal.kind == "agent"
	not input.tool in config.agent_read_only_tools
	not sentry_routine_rollback
	not plan_approved
	msg := sprintf(
		"agents may call %v only with a human approval: agent plans need one before any step that changes state",
		[input.tool],
	)
}

# An approval of the plan this call belongs to, by someone policy accepts: approvals of an
# earlier hash (before an amendment) do not count, nor an agent's, nor, unless the config allows
# it, one by the person who asked the agent for the plan. The approvals flow refuses those
# approvers already (approvals.rego); this is the same rule where the step is decided.
plan_approved if {
	current := object.get(input, ["context", "plan_hash"], null)
	current != null
	some approval in object.get(input, ["context", "plan_approved_by"], [])
	approval.plan_hash == current
	not startswith(approval.approver, "agent:")
	not approved_by_requester(approval.approver)
}

approved_by_requester(approver) if {
	not config.requester_may_approve_agent_plans
	approver == object.get(input, ["context", "requested_by"], null)
}

# The deployment sentry workflow's undo: it may roll back as far as a human may without approval
# (design card: a human must agree before rolling back beyond one step). The LangGraph agents,
# the sentry agent among them, only propose, so their rollbacks wait for the plan's approval.
sentry_routine_rollback if {
	agent_name == null
	input.tool == "rollback_model"
	object.get(input.params, "steps", 1) <= config.rollback_max_steps_without_approval
}

default needs_approval := false

needs_approval if count(approval_reasons) > 0

default decision := {"allow": false, "needs_approval": false, "reasons": ["no decision"]}

decision := {"allow": true, "needs_approval": needs_approval, "reasons": sort(approval_reasons)} if allow

decision := {"allow": false, "needs_approval": false, "reasons": sort(deny_reasons)} if not allow
