import type { ReactNode } from "react";
import { Navigate, useLocation } from "react-router-dom";
import type { Role } from "../api/client";
import { useRoles, useSessionState } from "../services";
import { Forbidden } from "../shell/Forbidden";

/** True when `roles` holds at least one of `anyOf` (the API's `require_role` rule). */
export function hasAnyRole(roles: readonly Role[], anyOf: readonly Role[]): boolean {
  return anyOf.some((role) => roles.includes(role));
}

/** Signed-out visitors go to the login page, which brings them back here afterwards. */
export function RequireSignedIn({ children }: { children: ReactNode }) {
  const state = useSessionState();
  const location = useLocation();
  if (state.status !== "signedIn") {
    const next = location.pathname + location.search;
    return <Navigate to={`/login?next=${encodeURIComponent(next)}`} replace />;
  }
  return <>{children}</>;
}

/** A page for some roles only: others see why not. The API decides again on every call. */
export function RequireRoles({ anyOf, children }: { anyOf: readonly Role[]; children: ReactNode }) {
  const roles = useRoles();
  return hasAnyRole(roles, anyOf) ? <>{children}</> : <Forbidden roles={anyOf} />;
}

/** Renders its children only for the given roles (e.g. no approve button for a viewer). */
export function IfRoles({ anyOf, children }: { anyOf: readonly Role[]; children: ReactNode }) {
  const roles = useRoles();
  return hasAnyRole(roles, anyOf) ? <>{children}</> : null;
}
