/**
 * The canvas's node and edge components. They are memoised and get a data object that only changes when
 * what they show changes, so an edit re-renders the nodes it touched and nothing else.
 */

import {
  BaseEdge, type EdgeProps, Handle, type Node, type NodeProps, Position, type ReactFlowState, getBezierPath, getSmoothStepPath,
  useStore,
} from "@xyflow/react";
import { memo } from "react";
import type { Issue, NodeView } from "../model/analysis";
import { type Dim, type LayerSpec, clipText, formatShape, layerParams } from "../model/spec";
import { studio } from "../store";

export interface LayerNodeData extends Record<string, unknown> {
  layer: LayerSpec;
  family: string;
  isBlock: boolean;
  view: NodeView | null;
  inSlots: number;
  /** Slots of a merge that can take one more input. */
  openSlot: boolean;
  outSlots: number;
  deviceColor: string | null;
  flash: boolean;
  readOnly: boolean;
}

export interface IONodeData extends Record<string, unknown> {
  kind: "input" | "output";
  name: string;
  shape: Dim[] | null;
  dtype: string | null;
  readOnly: boolean;
}

export type LayerFlowNode = Node<LayerNodeData, "layer">;
export type IOFlowNode = Node<IONodeData, "io">;

export interface ShapeEdgeData extends Record<string, unknown> {
  shape: Dim[] | null;
  known: boolean;
}

export const HANDLE_SPREAD = 150;

function handleLeft(i: number, n: number): string {
  if (n <= 1) return "50%";
  const start = 100 - HANDLE_SPREAD / 2;
  return `${start + (HANDLE_SPREAD * i) / (n - 1)}px`;
}

// short names for the parameters people set most, so a node's line reads "out 16 · k 3 · pad same"
const SHORT: Record<string, string> = {
  out_channels: "out", out_features: "out", kernel_size: "k", stride: "s", padding: "pad", dilation: "dil",
  groups: "groups", hidden_size: "hidden", num_layers: "layers", bidirectional: "bi", num_heads: "heads",
  embedding_dim: "dim", num_embeddings: "vocab", return_sequences: "seq", scale_factor: "scale",
  negative_slope: "slope", num_groups: "groups", ff_dim: "ff", hidden: "hidden", activation: "act",
};

export function paramSummary(layer: LayerSpec): string {
  const parts: string[] = [];
  if (layer.type === "Op") {
    // an ONNX op kept as a generic layer: what it does is its op type (the title) and attributes
    const attrs = (layer.attributes ?? {}) as Record<string, unknown>;
    for (const [k, v] of Object.entries(attrs)) parts.push(`${k} ${Array.isArray(v) ? v.join("×") : typeof v === "object" ? "{…}" : String(v)}`);
    return parts.join(" · ");
  }
  for (const [k, v] of Object.entries(layerParams(layer))) {
    const text = Array.isArray(v) ? v.join("×") : typeof v === "object" && v !== null ? "{…}" : String(v);
    parts.push(`${SHORT[k] ?? k} ${text}`);
  }
  return parts.join(" · ");
}

export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined) return "";
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(n < 10_000_000 ? 2 : 1)}M`;
}

function IssueBox({ issue, readOnly }: { issue: Issue; readOnly: boolean }) {
  return (
    <div className={`node-issue ${issue.level}`} data-testid="node-issue">
      <div className="node-issue-msg" data-testid="node-issue-message">{issue.message}</div>
      {issue.suggestion && <div className="node-issue-hint" data-testid="node-issue-suggestion">{issue.suggestion}</div>}
      {issue.fix && !readOnly && (
        <button
          className="btn fix nodrag"
          data-testid="fix-button"
          title={issue.fix.description}
          onClick={(e) => {
            e.stopPropagation();
            void studio.fix(issue.code, issue.layers, issue.fix!.description);
          }}
        >
          Fix: {issue.fix.description}
        </button>
      )}
    </div>
  );
}

/** Below this zoom the nodes and edges draw only what can still be read (and mount faster). */
export const DETAIL_ZOOM = 0.45;
const zoomedOut = (s: ReactFlowState) => s.transform[2] < DETAIL_ZOOM;

function LayerNodeImpl({ data, selected }: NodeProps<LayerFlowNode>) {
  const { layer, view, family } = data;
  const far = useStore(zoomedOut);
  const status = view?.status ?? "pending";
  // the most serious issue on the node itself (the rest in the inspector and the Issues tab)
  const issues = (view?.issues ?? []).filter((i) => i.level !== "suggestion" || !!i.fix);
  const shownIssues = issues.slice(0, 1);
  const summary = paramSummary(layer);
  const typeName = layer.type === "Op" && typeof layer.op_type === "string" ? layer.op_type : layer.type;
  return (
    <div
      className={`node layer fam-${family} status-${status.replace(" ", "-")}${selected ? " selected" : ""}${data.flash ? " flash" : ""}${data.isBlock ? " block" : ""}`}
      data-testid="layer-node"
      data-id={layer.id}
      data-type={layer.type}
      data-status={status}
      title={layer.description ?? undefined}
    >
      {data.deviceColor && <div className="node-device" style={{ background: data.deviceColor }} title={`runs on ${layer.device}`} />}
      {Array.from({ length: data.inSlots + (data.openSlot ? 1 : 0) }, (_, i) => (
        <Handle
          key={`in${i}`}
          id={`in${i}`}
          type="target"
          position={Position.Top}
          className={i >= data.inSlots ? "handle open" : "handle"}
          style={{ left: handleLeft(i, data.inSlots + (data.openSlot ? 1 : 0)) }}
          isConnectable={!data.readOnly}
          data-testid={`handle-in-${i}`}
        />
      ))}
      <div className="node-head">
        <span className="node-type" title={typeName}>{typeName}</span>
        {data.isBlock && <span className="node-tag" title="a block: double-click to open it">block</span>}
        {layer.type === "Op" && <span className="node-tag op" title="an ONNX operator kept as it is (generic Op layer)">onnx op</span>}
        <span className="node-params" data-testid="node-params" title="trainable parameters">
          {view?.params !== null && view?.params !== undefined ? formatCount(view.params) : ""}
        </span>
      </div>
      <div className="node-sub">
        <span className="node-id" data-testid="node-id" title={layer.id}>{layer.id}</span>
        {layer.device && <span className="node-devtext" style={{ color: data.deviceColor ?? undefined }} title={`runs on ${layer.device}`}>{layer.device}</span>}
      </div>
      {!far && summary && <div className="node-args" title={summary}>{summary}</div>}
      {status === "not inferred" && <div className="node-note" data-testid="not-inferred">not inferred</div>}
      {!far && shownIssues.map((issue, i) => <IssueBox key={i} issue={issue} readOnly={data.readOnly} />)}
      {!far && issues.length > 1 && <div className="node-more">+{issues.length - 1} more (see the inspector)</div>}
      {Array.from({ length: Math.max(1, data.outSlots) }, (_, i) => (
        <Handle
          key={`out${i}`}
          id={`out${i}`}
          type="source"
          position={Position.Bottom}
          className="handle"
          style={{ left: handleLeft(i, Math.max(1, data.outSlots)) }}
          isConnectable={!data.readOnly}
          data-testid={`handle-out-${i}`}
        />
      ))}
    </div>
  );
}

function IONodeImpl({ data, selected }: NodeProps<IOFlowNode>) {
  const isInput = data.kind === "input";
  const shape = `${data.shape ? formatShape(data.shape) : ""}${data.dtype && data.dtype !== "float32" ? `  ${data.dtype}` : ""}`.trim();
  return (
    <div className={`node io ${data.kind}${selected ? " selected" : ""}`} data-testid={`${data.kind}-node`} data-id={data.name}>
      {!isInput && <Handle id="in0" type="target" position={Position.Top} className="handle" isConnectable={!data.readOnly} data-testid="handle-in-0" />}
      <div className="node-head">
        <span className="node-type">{isInput ? "Input" : "Output"}</span>
        <span className="node-id" title={data.name}>{data.name}</span>
      </div>
      <div className="node-sub mono">
        <span className="node-shape" data-testid="node-shape" title={shape || undefined}>{shape || (isInput ? "" : "…")}</span>
      </div>
      {isInput && <Handle id="out0" type="source" position={Position.Bottom} className="handle" isConnectable={!data.readOnly} data-testid="handle-out-0" />}
    </div>
  );
}

export const LayerNode = memo(LayerNodeImpl);
export const IONode = memo(IONodeImpl);

const CHAR = 6.6; // width of one character of the 11px monospace label font
/** An edge's shape label is cut at about a node's width (the whole shape is its tooltip). */
export const EDGE_LABEL_CHARS = 30;

function ShapeEdgeImpl(props: EdgeProps) {
  const { sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition, data, selected, markerEnd } = props;
  const far = useStore(zoomedOut);
  // an edge going back up (a long network wrapped into columns) runs around the nodes, through the gap
  // between the columns, with its shape just under the producer where there is room
  const wraps = targetY < sourceY - 10;
  let path: string, labelX: number, labelY: number;
  if (wraps) {
    [path] = getSmoothStepPath({ sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition, borderRadius: 10, offset: 18 });
    labelX = sourceX;
    labelY = sourceY + 30;
  } else {
    [path, labelX, labelY] = getBezierPath({ sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition });
  }
  const d = data as ShapeEdgeData | undefined;
  const full = d?.shape ? formatShape(d.shape) : d?.known === false ? "" : "?";
  const text = clipText(full, EDGE_LABEL_CHARS);
  const w = [...text].length * CHAR + 12;
  return (
    <>
      <BaseEdge path={path} markerEnd={markerEnd} className={`${selected ? "selected " : ""}${d?.shape ? "" : "unknown"}`} />
      {text && !far && (
        <g transform={`translate(${labelX} ${labelY})`} className={`edge-label${d?.shape ? "" : " unknown"}`} data-testid="edge-shape" data-shape={full}>
          <title>{full}</title>
          <rect x={-w / 2} y={-9} width={w} height={18} rx={9} />
          <text x={0} y={0} dy="0.35em" textAnchor="middle">{text}</text>
        </g>
      )}
    </>
  );
}

export const ShapeEdge = memo(ShapeEdgeImpl);

export const nodeTypes = { layer: LayerNode, io: IONode };
export const edgeTypes = { shape: ShapeEdge };
