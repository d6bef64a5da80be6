import type { Role } from "../api/client";
import type { MessageId } from "../i18n/catalogues";

/** Who may use each view; these mirror the API's named permissions so that nobody is shown a
 * page that would only answer 403 (the API still decides on every call). */
export const ROLES = {
  // inference/permissions.can_score: any role.
  score: [
    "viewer",
    "annotator",
    "analyst",
    "ml_engineer",
    "approver",
    "tenant_admin",
    "platform_admin",
    "agent",
  ],
  // approvals/permissions.READERS
  readApprovals: ["approver", "ml_engineer", "tenant_admin", "analyst", "viewer"],
  // approvals/permissions.can_decide_approvals
  decideApprovals: ["approver"],
  // workflows/permissions.READERS
  readPlans: ["ml_engineer", "tenant_admin", "agent", "approver", "analyst", "viewer"],
  // agents/permissions: people who may chat with the planner
  chat: ["viewer", "analyst", "approver", "ml_engineer", "tenant_admin"],
  // labeling/permissions: project readers
  labeling: ["viewer", "annotator", "analyst", "ml_engineer", "approver", "tenant_admin"],
  monitoring: ["viewer", "analyst", "ml_engineer", "approver", "tenant_admin", "platform_admin"],
  experiments: ["analyst", "ml_engineer", "approver", "tenant_admin"],
  // identity/permissions: tenant and identity administration
  admin: ["tenant_admin", "platform_admin"],
} as const satisfies Record<string, readonly Role[]>;

export interface NavEntry {
  path: string;
  label: MessageId;
  roles: readonly Role[];
  /** False: listed as "coming soon" (issue 18's later views), not a link. */
  ready: boolean;
}

export const NAV: readonly NavEntry[] = [
  { path: "/playground", label: "nav.playground", roles: ROLES.score, ready: true },
  { path: "/approvals", label: "nav.approvals", roles: ROLES.readApprovals, ready: true },
  { path: "/plans", label: "nav.plans", roles: ROLES.readPlans, ready: true },
  { path: "/chat", label: "nav.chat", roles: ROLES.chat, ready: false },
  { path: "/monitoring", label: "nav.monitoring", roles: ROLES.monitoring, ready: false },
  { path: "/experiments", label: "nav.experiments", roles: ROLES.experiments, ready: false },
  { path: "/labeling", label: "nav.labeling", roles: ROLES.labeling, ready: false },
  { path: "/admin", label: "nav.admin", roles: ROLES.admin, ready: false },
];
