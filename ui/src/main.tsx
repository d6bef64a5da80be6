import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter } from "react-router-dom";
import { App, makeQueryClient } from "./App";
import { makeServices } from "./services";

const root = document.getElementById("root");
if (root === null) throw new Error("index.html has no #root");

// Same origin as the API that serves this page (or Vite's dev server, which proxies /api).
const services = makeServices(window.location.origin, (request) => fetch(request));

createRoot(root).render(
  <StrictMode>
    <BrowserRouter>
      <App services={services} queryClient={makeQueryClient()} />
    </BrowserRouter>
  </StrictMode>,
);
