import DarkModeIcon from "@mui/icons-material/DarkMode";
import LightModeIcon from "@mui/icons-material/LightMode";
import AppBar from "@mui/material/AppBar";
import Box from "@mui/material/Box";
import Button from "@mui/material/Button";
import Chip from "@mui/material/Chip";
import Drawer from "@mui/material/Drawer";
import IconButton from "@mui/material/IconButton";
import List from "@mui/material/List";
import ListItem from "@mui/material/ListItem";
import ListItemButton from "@mui/material/ListItemButton";
import ListItemText from "@mui/material/ListItemText";
import MenuItem from "@mui/material/MenuItem";
import Select from "@mui/material/Select";
import Toolbar from "@mui/material/Toolbar";
import Typography from "@mui/material/Typography";
import { Suspense } from "react";
import { NavLink, Outlet } from "react-router-dom";
import { hasAnyRole } from "../auth/guards";
import { LOCALES, type Locale } from "../i18n/catalogues";
import { useT } from "../i18n/useT";
import { useRoles, useServices, useSessionState } from "../services";
import { useUiStore } from "../uiStore";
import { NAV } from "./nav";
import { Loading } from "./states";

const DRAWER_WIDTH = 220;

/** The navigation shell: every view (those to come too) is listed for the roles that may use it. */
export function Layout() {
  const t = useT();
  const roles = useRoles();
  const state = useSessionState();
  const { session } = useServices();
  const { mode, toggleMode, locale, setLocale } = useUiStore();
  const entries = NAV.filter((entry) => hasAnyRole(roles, entry.roles));

  return (
    <Box sx={{ display: "flex", minHeight: "100vh" }}>
      <AppBar position="fixed" sx={{ zIndex: (theme) => theme.zIndex.drawer + 1 }}>
        <Toolbar sx={{ gap: 1 }}>
          <Typography variant="h6" component="p" sx={{ flexGrow: 1 }}>
            SentimentOps
          </Typography>
          {state.status === "signedIn" ? (
            <Typography variant="body2" aria-label={t("shell.signedInAs", { name: state.who.name })}>
              {state.who.name} · {state.who.tenant}
            </Typography>
          ) : null}
          <Select
            size="small"
            value={locale}
            onChange={(event) => setLocale(event.target.value as Locale)}
            inputProps={{ "aria-label": t("shell.language") }}
            sx={{ color: "inherit", ".MuiOutlinedInput-notchedOutline": { borderColor: "currentColor" } }}
          >
            {LOCALES.map((code) => (
              <MenuItem key={code} value={code}>
                {code.toUpperCase()}
              </MenuItem>
            ))}
          </Select>
          <IconButton
            color="inherit"
            onClick={toggleMode}
            aria-label={mode === "light" ? t("shell.darkMode") : t("shell.lightMode")}
          >
            {mode === "light" ? <DarkModeIcon /> : <LightModeIcon />}
          </IconButton>
          <Button color="inherit" onClick={() => session.signOut("signedOut")}>
            {t("shell.signOut")}
          </Button>
        </Toolbar>
      </AppBar>
      <Drawer
        variant="permanent"
        sx={{ width: DRAWER_WIDTH, flexShrink: 0, "& .MuiDrawer-paper": { width: DRAWER_WIDTH } }}
      >
        <Toolbar />
        <Box component="nav" aria-label={t("shell.navigation")}>
          <List>
            {entries.map((entry) =>
              entry.ready ? (
                <ListItem key={entry.path} disablePadding>
                  <ListItemButton
                    component={NavLink}
                    to={entry.path}
                    sx={{ "&.active": { bgcolor: "action.selected", fontWeight: 600 } }}
                  >
                    <ListItemText primary={t(entry.label)} />
                  </ListItemButton>
                </ListItem>
              ) : (
                <ListItem key={entry.path} aria-disabled="true" sx={{ color: "text.secondary" }}>
                  <ListItemText primary={t(entry.label)} />
                  <Chip size="small" label={t("nav.soon")} variant="outlined" />
                </ListItem>
              ),
            )}
          </List>
        </Box>
      </Drawer>
      <Box component="main" sx={{ flexGrow: 1, p: 3, minWidth: 0 }}>
        <Toolbar />
        <Suspense fallback={<Loading label={t("state.loading")} />}>
          <Outlet />
        </Suspense>
      </Box>
    </Box>
  );
}
