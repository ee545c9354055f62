"""The peer a user would otherwise run: the same CLIP towers in PyTorch, eager, fp32.

Builds PickScore-shaped and CLIP-L-shaped towers (random weights, the shapes given in the JSON
argument, the layout of Hugging Face's CLIPModel: pre-LN blocks, q/k/v/out projections, GELU or
QuickGELU MLP, class token, causal text mask, EOS/argmax pooling, projections) and times the
prompt through both text towers and N images through both vision towers, as bench/scoring.ts
times the same work through onnxruntime. Threads: torch.set_num_threads(cores); BLAS threads come
from OPENBLAS_NUM_THREADS / OMP_NUM_THREADS, which bench/pytorchPeer.ts sets to the cores.

    python3 bench/pytorch_towers.py '{"archs": {...}, "images": 8, "prompt_tokens": 30, "threads": 2}'

Prints one JSON line: {"torch": "...", "threads": N, "blas": "...", "prompt_ms": ..., "images_ms": ..., "total_ms": ...}.
Only the standard library and torch are needed.
"""
import json
import math
import os
import sys
import time

import torch
from torch import nn


def activation(name):
    if name == "quick_gelu":
        return lambda x: x * torch.sigmoid(1.702 * x)
    return nn.functional.gelu


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["hiddenSize"]
        self.heads = c["numAttentionHeads"]
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.ln1 = nn.LayerNorm(d, eps=c["layerNormEps"])
        self.ln2 = nn.LayerNorm(d, eps=c["layerNormEps"])
        self.fc1 = nn.Linear(d, c["intermediateSize"])
        self.fc2 = nn.Linear(c["intermediateSize"], d)
        self.act = activation(c["hiddenAct"])

    def forward(self, h, mask=None):
        b, s, d = h.shape
        hd = d // self.heads
        x = self.ln1(h)
        split = lambda t: t.view(b, s, self.heads, hd).transpose(1, 2)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = (q * (1.0 / math.sqrt(hd))) @ k.transpose(-1, -2)
        if mask is not None:
            scores = scores + mask
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, s, d)
        h = h + self.o(ctx)
        return h + self.fc2(self.act(self.fc1(self.ln2(h))))


class TextTower(nn.Module):
    def __init__(self, c, projection, eos_token_id):
        super().__init__()
        self.token = nn.Embedding(c["vocabSize"], c["hiddenSize"])
        self.position = nn.Embedding(c["maxPositionEmbeddings"], c["hiddenSize"])
        self.blocks = nn.ModuleList(Block(c) for _ in range(c["numHiddenLayers"]))
        self.final = nn.LayerNorm(c["hiddenSize"], eps=c["layerNormEps"])
        self.proj = nn.Linear(c["hiddenSize"], projection, bias=False)
        self.eos = eos_token_id

    def forward(self, ids):
        s = ids.shape[1]
        h = self.token(ids) + self.position(torch.arange(s).unsqueeze(0))
        mask = torch.full((s, s), float("-inf")).triu(1)
        for block in self.blocks:
            h = block(h, mask)
        h = self.final(h)
        # The legacy eos_token_id 2 pools at the largest id, the others at the first EOS.
        pos = ids.argmax(-1) if self.eos == 2 else (ids == self.eos).int().argmax(-1)
        return self.proj(h[torch.arange(ids.shape[0]), pos])


class VisionTower(nn.Module):
    def __init__(self, c, projection):
        super().__init__()
        d, p = c["hiddenSize"], c["patchSize"]
        patches = (c["imageSize"] // p) ** 2
        self.patch = nn.Conv2d(c["numChannels"], d, p, stride=p, bias=False)
        self.cls = nn.Parameter(torch.randn(d))
        self.position = nn.Parameter(torch.randn(patches + 1, d) * 0.02)
        self.pre = nn.LayerNorm(d, eps=c["layerNormEps"])
        self.blocks = nn.ModuleList(Block(c) for _ in range(c["numHiddenLayers"]))
        self.post = nn.LayerNorm(d, eps=c["layerNormEps"])
        self.proj = nn.Linear(d, projection, bias=False)

    def forward(self, pixels):
        x = self.patch(pixels).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], 1, -1), x], dim=1) + self.position
        h = self.pre(x)
        for block in self.blocks:
            h = block(h)
        return self.proj(self.post(h[:, 0]))


def loaded_blas():
    """The BLAS libraries this process really mapped (Debian switches them with alternatives)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "blas" in line.lower() and "/" in line}
    except OSError:
        return "unknown"
    return ", ".join(sorted(os.path.realpath(p) for p in paths)) or "none mapped"


def main():
    spec = json.loads(sys.argv[1])
    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    towers = []
    for arch in spec["archs"]:
        text = TextTower(arch["text"], arch["projectionDim"], arch["text"]["eosTokenId"]).eval()
        vision = VisionTower(arch["vision"], arch["projectionDim"]).eval()
        towers.append((arch, text, vision))
    n = spec["images"]
    tokens = spec["prompt_tokens"]
    ids = torch.randint(1, 400, (1, tokens))
    ids[0, 0] = towers[0][0]["text"]["bosTokenId"]
    ids[0, -1] = towers[0][0]["text"]["vocabSize"] - 1 if towers[0][0]["text"]["eosTokenId"] == 2 else towers[0][0]["text"]["eosTokenId"]
    images = [torch.randn(1, 3, 224, 224) for _ in range(n + 1)]
    with torch.inference_mode():
        # Warm-up: one pass through every tower (first calls allocate).
        for _, text, vision in towers:
            text(ids)
            vision(images[n])
        t0 = time.perf_counter()
        for arch, text, _ in towers:
            eos_ids = ids.clone()
            if arch["text"]["eosTokenId"] != 2:
                eos_ids[0, -1] = arch["text"]["eosTokenId"]
            text(eos_ids)
        prompt_ms = (time.perf_counter() - t0) * 1000
        t1 = time.perf_counter()
        for img in images[:n]:
            for _, _, vision in towers:
                vision(img)
        images_ms = (time.perf_counter() - t1) * 1000
    blas = loaded_blas()
    print(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": blas,
        "prompt_ms": prompt_ms,
        "images_ms": images_ms,
        "total_ms": prompt_ms + images_ms,
    }))


if __name__ == "__main__":
    main()
