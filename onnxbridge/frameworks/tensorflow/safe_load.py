"""Look inside TensorFlow files before anything in them runs.

A SavedModel is a program: loading it runs its resource initialisers, and converting it runs its serving
function. :func:`side_effect_ops` reads ``saved_model.pb`` as plain protobuf (nothing executes) and lists
every op that reaches outside the computation — the file system, processes, Python, the network, summary
and debug writers — so that the importer can refuse the model unless the user trusts it. The only
exemption is the standard checkpoint saver the SavedModel format itself adds (``SaveV2``/``RestoreV2`` in
the functions that ``saver_def`` names), which the loader reads the model's own variables with.

A ``.keras`` archive is data, loaded with Keras ``safe_mode``; :func:`keras_archive_refs` still finds the
layers that would load another program from a path (``TFSMLayer``).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable
from pathlib import Path

#: ops that touch files, processes, Python or the network (by family); none is needed to compute a model
SIDE_EFFECT_OPS: dict[str, frozenset[str]] = {
    "files": frozenset({
        "WriteFile", "ReadFile", "MatchingFiles", "FileSystemSetConfiguration", "ImmutableConst",
        "InitializeTableFromTextFile", "InitializeTableFromTextFileV2",
        "TFRecordReader", "TFRecordReaderV2", "TextLineReader", "TextLineReaderV2", "WholeFileReader",
        "WholeFileReaderV2", "FixedLengthRecordReader", "FixedLengthRecordReaderV2", "LMDBReader",
        "TFRecordDataset", "TFRecordDatasetV2", "TextLineDataset", "FixedLengthRecordDataset",
        "FixedLengthRecordDatasetV2", "CSVDataset", "CSVDatasetV2", "ExperimentalCSVDataset", "LMDBDataset",
        "ExperimentalLMDBDataset", "SqlDataset", "ExperimentalSqlDataset", "MatchingFilesDataset",
        "ExperimentalMatchingFilesDataset", "CacheDataset", "CacheDatasetV2", "SnapshotDataset",
        "SnapshotDatasetV2", "SnapshotChunkDataset", "SnapshotDatasetReader", "SnapshotNestedDatasetReader",
        "ListSnapshotChunksDataset", "SaveDataset", "SaveDatasetV2", "LoadDataset", "DistributedSave",
        "DatasetToTFRecord", "ExperimentalDatasetToTFRecord", "LoadAndRemapMatrix", "CalibrationStatisticsSaver",
    }),
    "checkpoints": frozenset({
        "Save", "SaveSlices", "SaveV2", "Restore", "RestoreSlice", "RestoreV2", "MergeV2Checkpoints",
        "DTensorRestoreV2",
    }),
    "summaries and debugging": frozenset({
        "CreateSummaryFileWriter", "CreateSummaryDbWriter", "WriteSummary", "WriteScalarSummary",
        "WriteHistogramSummary", "WriteImageSummary", "WriteAudioSummary", "WriteGraphSummary",
        "WriteRawProtoSummary", "ImportEvent", "FlushSummaryWriter", "CloseSummaryWriter", "SummaryWriter",
        "StatsAggregatorSetSummaryWriter", "DebugIdentity", "DebugIdentityV2", "DebugIdentityV3",
        "DebugNanCount", "DebugNumericSummary", "DebugNumericSummaryV2", "DumpTensor",
    }),
    "Python": frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc", "GeneratorDataset"}),
    "the network": frozenset({
        "RpcServer", "RpcServerRegister", "RpcServerStart", "RpcClient", "RpcCall", "RpcCheckStatus",
        "RpcGetValue", "DeleteRpcFutureResource", "RemoteCall", "DataServiceDataset", "DataServiceDatasetV2",
        "DataServiceDatasetV3", "DataServiceDatasetV4", "RegisterDataset", "RegisterDatasetV2",
        "CollectiveReduce", "CollectiveReduceV2", "CollectiveReduceV3", "CollectiveGather",
        "CollectiveGatherV2", "CollectiveBcastSend", "CollectiveBcastRecv", "CollectiveBcastSendV2",
        "CollectiveBcastRecvV2", "CollectiveAllToAllV2", "CollectiveAllToAllV3", "CollectiveReduceScatterV2",
        "CollectiveInitializeCommunicator", "CollectivePermute",
    }),
}
_ALL = frozenset().union(*SIDE_EFFECT_OPS.values())
#: what the SavedModel format's own saver functions may use of the list above
_SAVER_OPS = frozenset({"SaveV2", "RestoreV2", "MergeV2Checkpoints", "Save", "SaveSlices", "Restore",
                        "RestoreSlice"})


def family_of(op: str) -> str:
    """Which family of :data:`SIDE_EFFECT_OPS` an op belongs to."""
    return next(name for name, ops in SIDE_EFFECT_OPS.items() if op in ops)


def _side_effect(node: object) -> bool:
    op = node.op  # type: ignore[attr-defined]
    if op in _ALL:
        return True
    if op == "PrintV2":  # prints to stderr are harmless; output_stream="file://..." writes a file
        stream = node.attr["output_stream"].s.decode("utf-8", "replace")  # type: ignore[attr-defined]
        return stream.startswith("file://")
    return False


def _called_functions(nodes: Iterable[object]) -> set[str]:
    """Names of the functions that ``nodes`` call (``f`` of PartitionedCall, While bodies, map functions)."""
    names: set[str] = set()
    for node in nodes:
        for value in node.attr.values():  # type: ignore[attr-defined]
            if value.HasField("func"):
                names.add(value.func.name)
            if value.HasField("list"):
                names.update(f.name for f in value.list.func)
    return names


def side_effect_ops(path: str | Path) -> dict[str, list[str]]:
    """Ops in the SavedModel at ``path`` that reach outside the computation: ``{op: [where, ...]}``.

    ``where`` is the function (or ``graph``) holding the node and the node's name. Reads the protobuf
    only; an empty result means no such op is anywhere in the model, except in the format's own saver.
    """
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((Path(path) / "saved_model.pb").read_bytes())
    found: dict[str, list[str]] = {}
    for meta in saved.meta_graphs:
        graph = meta.graph_def
        library = {f.signature.name: f for f in graph.library.function}
        saver_nodes = {name.split(":")[0].lstrip("^") for name in
                       (meta.saver_def.save_tensor_name, meta.saver_def.restore_op_name) if name}
        saver_scope = {name.split("/")[0] + "/" for name in saver_nodes if "/" in name}
        in_saver = [n for n in graph.node if n.name in saver_nodes or any(n.name.startswith(s) for s in saver_scope)]
        saver_names = {n.name for n in in_saver}
        others = [n for n in graph.node if n.name not in saver_names]
        # the saver's functions are exempt only when nothing but the saver nodes calls them
        saver_called = _called_functions(in_saver)
        callers = others + [n for name, f in library.items() if name not in saver_called for n in f.node_def]
        saver_functions = saver_called - _called_functions(callers)
        for node in in_saver:
            if _side_effect(node) and node.op not in _SAVER_OPS:
                found.setdefault(node.op, []).append(f"graph/{node.name}")
        for node in others:
            if _side_effect(node):
                found.setdefault(node.op, []).append(f"graph/{node.name}")
        for name, function in library.items():
            allowed = _SAVER_OPS if name in saver_functions else frozenset()
            for node in function.node_def:
                if _side_effect(node) and node.op not in allowed:
                    found.setdefault(node.op, []).append(f"{name}/{node.name}")
    return found


def keras_archive_refs(path: str | Path) -> list[str]:
    """Layers in a ``.keras`` archive that load another program from a path (``TFSMLayer``)."""
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (KeyError, ValueError, OSError, RecursionError, zipfile.BadZipFile):
        return []  # the Keras loader reports a broken archive itself
    found: list[str] = []
    stack: list[object] = [config]
    while stack:  # iterative: a hostile config may nest deeper than Python's recursion limit
        value = stack.pop()
        if isinstance(value, dict):
            if value.get("class_name") == "TFSMLayer":
                found.append(str((value.get("config") or {}).get("name", "TFSMLayer")))
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found
