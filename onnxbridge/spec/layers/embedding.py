"""Token embeddings: integer ids -> learned vectors."""

from __future__ import annotations

from pydantic import Field

from onnxbridge.spec.params import LayerParams
from onnxbridge.spec.registry import Example, LayerDef, LayerShapeError, Weight, register_layer
from onnxbridge.spec.types import TensorInfo


class EmbeddingParams(LayerParams):
    """Parameters of ``Embedding``."""
    num_embeddings: int = Field(gt=0, description="Vocabulary size (ids must be below it).")
    embedding_dim: int = Field(gt=0, description="Size of each embedding vector.")


@register_layer
class Embedding(LayerDef):
    """Look up a vector per integer id: [batch, seq] ids -> [batch, seq, embedding_dim]."""

    family = "embedding"
    Params = EmbeddingParams

    @classmethod
    def output(cls, p: EmbeddingParams, x: TensorInfo) -> TensorInfo:
        """The ids' shape plus ``embedding_dim``, float32; integer ids only."""
        if not x.dtype.startswith("int"):
            raise LayerShapeError(f"needs integer token ids, not {x.dtype}",
                                  "declare the input with dtype: int64", code="OB507")
        return TensorInfo((*x.shape, p.embedding_dim), "float32")

    @classmethod
    def weights(cls, p: EmbeddingParams, inputs):
        """The embedding table ``[num_embeddings, embedding_dim]``, initialised from a standard normal."""
        return {"weight": Weight((p.num_embeddings, p.embedding_dim), "normal", std=1.0)}

    @classmethod
    def lower(cls, p, b, inputs, infos, outputs):
        """Emit ``Gather(table, ids, axis=0)``."""
        table = b.weight("weight", cls.weights(p, infos)["weight"])
        b.node("Gather", [table, inputs[0]], outputs, axis=0)

    @classmethod
    def examples(cls):
        """int64 ids with a symbolic sequence length, and int32 ids with fixed sizes."""
        return [Example({"num_embeddings": 50, "embedding_dim": 8}, (TensorInfo(("batch", "seq"), "int64"),)),
                Example({"num_embeddings": 10, "embedding_dim": 3}, (TensorInfo((2, 4), "int32"),))]
