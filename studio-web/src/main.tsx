import "@xyflow/react/dist/base.css";
import "./styles.css";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./ui/App";
import { studio } from "./store";

// the benchmark and the end-to-end tests read timings and state from here (same origin only)
(window as unknown as { __studio: typeof studio }).__studio = studio;

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
void studio.start();
