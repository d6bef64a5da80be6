import CssBaseline from "@mui/material/CssBaseline";
import { ThemeProvider } from "@mui/material/styles";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { lazy, type ReactNode, useEffect, useMemo } from "react";
import { IntlProvider } from "react-intl";
import { Navigate, type RouteObject, useRoutes } from "react-router-dom";
import { RequireRoles, RequireSignedIn } from "./auth/guards";
import { LoginPage } from "./auth/LoginPage";
import { catalogues } from "./i18n/catalogues";
import { type Services, ServicesProvider } from "./services";
import { ComingSoon } from "./shell/ComingSoon";
import { Layout } from "./shell/Layout";
import { NAV, ROLES } from "./shell/nav";
import { makeTheme } from "./theme";
import { useUiStore } from "./uiStore";

// Route-level code splitting: each view is its own chunk, loaded when first opened.
const PlaygroundPage = lazy(() => import("./views/playground/PlaygroundPage"));
const ApprovalsPage = lazy(() => import("./views/approvals/ApprovalsPage"));
const PlansPage = lazy(() => import("./views/approvals/PlansPage"));
const PlanDetailPage = lazy(() => import("./views/approvals/PlanDetailPage"));

export const routes: RouteObject[] = [
  { path: "/login", element: <LoginPage /> },
  {
    element: (
      <RequireSignedIn>
        <Layout />
      </RequireSignedIn>
    ),
    children: [
      { index: true, element: <Navigate to="/playground" replace /> },
      {
        path: "/playground",
        element: (
          <RequireRoles anyOf={ROLES.score}>
            <PlaygroundPage />
          </RequireRoles>
        ),
      },
      {
        path: "/approvals",
        element: (
          <RequireRoles anyOf={ROLES.readApprovals}>
            <ApprovalsPage />
          </RequireRoles>
        ),
      },
      {
        path: "/plans",
        element: (
          <RequireRoles anyOf={ROLES.readPlans}>
            <PlansPage />
          </RequireRoles>
        ),
      },
      {
        // Slack messages link here ({web_ui_url}/plans/{workflow_id}, approvals/slack/blocks.py).
        path: "/plans/:workflowId",
        element: (
          <RequireRoles anyOf={ROLES.readPlans}>
            <PlanDetailPage />
          </RequireRoles>
        ),
      },
      ...NAV.filter((entry) => !entry.ready).map(
        (entry): RouteObject => ({
          path: entry.path,
          element: (
            <RequireRoles anyOf={entry.roles}>
              <ComingSoon title={entry.label} />
            </RequireRoles>
          ),
        }),
      ),
      { path: "*", element: <Navigate to="/playground" replace /> },
    ],
  },
];

function Routes() {
  return useRoutes(routes);
}

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      // A 4xx will not turn into a 2xx by asking again; the views offer a retry button.
      queries: { retry: false, refetchOnWindowFocus: false },
    },
  });
}

/** Providers around the routes; the router itself comes from the caller (browser or memory). */
export function AppProviders({
  services,
  queryClient,
  children,
}: {
  services: Services;
  queryClient: QueryClient;
  children: ReactNode;
}) {
  const mode = useUiStore((state) => state.mode);
  const locale = useUiStore((state) => state.locale);
  const theme = useMemo(() => makeTheme(mode), [mode]);
  useEffect(() => {
    document.documentElement.lang = locale;
  }, [locale]);
  // A signed-out session drops every cached answer: the next person must not see them.
  useEffect(
    () =>
      services.session.subscribe(() => {
        if (services.session.getSnapshot().status === "signedOut") queryClient.clear();
      }),
    [services, queryClient],
  );
  return (
    <ServicesProvider services={services}>
      <QueryClientProvider client={queryClient}>
        <IntlProvider locale={locale} defaultLocale="en" messages={catalogues[locale]}>
          <ThemeProvider theme={theme}>
            <CssBaseline />
            {children}
          </ThemeProvider>
        </IntlProvider>
      </QueryClientProvider>
    </ServicesProvider>
  );
}

export function App({ services, queryClient }: { services: Services; queryClient: QueryClient }) {
  return (
    <AppProviders services={services} queryClient={queryClient}>
      <Routes />
    </AppProviders>
  );
}
