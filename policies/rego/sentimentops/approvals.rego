# Who may decide an approval request (approve or reject a plan step waiting for a human).
#
# Input:
#   approver: {subject, actor, kind: "human" | "agent" | "service", roles: [string]}
#             actor is how the audit log names the approver ("human:bob")
#   request:  {requester, requester_kind, requested_by}
#             requester: the plan's proposer (as the plan names it); requested_by: the person
#             who asked an agent for the plan (audit actor), null for plans nobody asked for
#
# Output (data.sentimentops.approvals.decision): {allow: bool, reasons: [string]}
# The approvals service adds what needs the database: the approver role in the request's
# tenant, the request still pending and unexpired, the reviewed plan hash.
package sentimentops.approvals

import rego.v1

config := data.sentimentops.config

approver := object.get(input, "approver", {})

request := object.get(input, "request", {})

# Names the approver goes by; the proposer and the requester are compared against both.
approver_names := {name |
	some key in ["subject", "actor"]
	name := object.get(approver, key, null)
	name != null
}

# An agent never approves (design card: every agent plan is approved by a human), whether it is
# an agent by its account's kind or by holding the agent role.
refusals contains "an agent can never approve a plan" if approver.kind == "agent"

refusals contains "an agent can never approve a plan" if "agent" in object.get(approver, "roles", [])

refusals contains "the proposer of a plan cannot approve it" if {
	object.get(request, "requester", null) in approver_names
}

# The person who asked an agent for a plan is a second pair of eyes short: the agent wrote what
# they asked for, so someone else approves (unless the tenant's config allows it).
refusals contains "the person who asked the agent for this plan cannot approve it" if {
	not config.requester_may_approve_agent_plans
	object.get(request, "requested_by", null) in approver_names
}

# The input must name the approver; a decision about nobody is refused.
refusals contains "the approver is unknown" if count(approver_names) == 0

decision := {"allow": count(refusals) == 0, "reasons": sort(refusals)}
