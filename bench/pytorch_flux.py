#!/usr/bin/env python3
"""PyTorch eager baseline of the FLUX.1 transformer forward, for bench/ (issue 7).

Our own plain Python/PyTorch implementation of the reference semantics (BFL `flux/model.py`, `flux/modules/
layers.py`, `flux/math.py`; the float32 time-embedding recipe of ../shared/golden/README.md), used to check that
the C++ forward computes the same numbers and then to time the same forward in the same run, on the same weights
(a BFL-layout .safetensors file, read here by a small numpy loader) and the same inputs (a .safetensors file
written by `bench_transformer_sizes --save-io`, or a golden transformer case).

The RoPE/DyPE table `pe` is an input: it is the one table every block shares, built once per step (our C++ side
builds it with DyPE and saves it; a golden case stores it). So both sides time the transformer on the same pe.

Attention: `torch.nn.functional.scaled_dot_product_attention` where PyTorch has it (2.0+, what BFL calls);
PyTorch 1.13 (Debian's python3-torch) has none, and softmax(q·kᵀ)·v over all 66,048 tokens would need a 17 GB
score matrix per head, so there the math runs over chunks of queries with the same 256 MiB budget as our C++
fallback (core/flux/attention.cpp).

Usage:
  pytorch_flux.py check-golden --golden DIR [--cases B_transformer_4x4_base,...]
  pytorch_flux.py compare --weights W.safetensors --io IO.safetensors [--iters N] [--warmup N] [--threads N]
                          [--device cpu|cuda] [--dtype f32|bf16] [--json OUT]
  pytorch_flux.py time-random --double N --single N --tokens N_img [--txt 512] [--device cuda] [--dtype bf16]
                          (random dev-shaped weights created here: timing only, no comparison)
"""

import argparse
import json
import math
import os
import resource
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

# ----------------------------------------------------------------------------------------------------------------
# safetensors (read only): header = 8-byte little-endian length + JSON, then raw little-endian row-major data.

_E4M3 = None


def _e4m3_table():
    global _E4M3
    if _E4M3 is None:
        codes = np.arange(256, dtype=np.int64)
        sign = np.where(codes & 0x80, -1.0, 1.0)
        exp = (codes >> 3) & 0xF
        man = codes & 0x7
        val = np.where(exp == 0, man / 8.0 * 2.0**-6, (1.0 + man / 8.0) * 2.0 ** (exp - 7.0))
        val = sign * val
        val[(codes & 0x7F) == 0x7F] = np.nan
        _E4M3 = val.astype(np.float32)
    return _E4M3


def load_safetensors(path, names=None, to_float32=True):
    """name -> torch tensor. BF16 / F16 / F8_E4M3 become float32 (exactly) when to_float32."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or (names is not None and name not in names):
            continue
        begin, end = info["data_offsets"]
        raw = data[begin:end]
        shape = info["shape"]
        dt = info["dtype"]
        if dt == "F32":
            arr = raw.view(np.float32)
        elif dt == "F64":
            arr = raw.view(np.float64)
        elif dt == "F16":
            arr = raw.view(np.float16).astype(np.float32) if to_float32 else raw.view(np.float16)
        elif dt == "BF16":
            arr = (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
        elif dt == "F8_E4M3":
            arr = _e4m3_table()[np.asarray(raw)]
        elif dt == "I64":
            arr = raw.view(np.int64)
        elif dt == "I32":
            arr = raw.view(np.int32)
        elif dt == "U8":
            arr = raw
        else:
            raise ValueError(f"{path}: tensor {name}: dtype {dt} not handled by this loader")
        out[name] = torch.from_numpy(np.array(arr).reshape(shape))
    return out


def save_safetensors(path, tensors):
    """Minimal writer (float32 / int64) for result files."""
    codes = {torch.float32: "F32", torch.int64: "I64", torch.float64: "F64"}
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        b = t.numpy().tobytes()
        header[name] = {"dtype": codes[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path + ".part", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(path + ".part", path)


# ----------------------------------------------------------------------------------------------------------------
# The model, BFL semantics. Weights are a flat dict of BFL keys; every forward casts nothing: the caller puts the
# weights in the compute dtype once (as a user of the BFL code does with model.to(dtype)).


def timestep_embedding(t, dim=256, max_period=10000, time_factor=1000.0):
    """Float32 recipe of the golden README: freqs = exp(float32(-ln max_period) * i / half)."""
    half = dim // 2
    t = (time_factor * t.float())
    freqs = torch.exp(torch.tensor(-math.log(max_period), dtype=torch.float32) *
                      torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class Flux:
    def __init__(self, w, dtype=torch.float32, device="cpu"):
        self.w = {k: v.to(device=device, dtype=dtype) for k, v in w.items()}
        self.dtype, self.device = dtype, torch.device(device)
        hidden = self.w["img_in.weight"].shape[0]
        self.head_dim = self.w["double_blocks.0.img_attn.norm.query_norm.scale"].shape[0] if \
            "double_blocks.0.img_attn.norm.query_norm.scale" in self.w else \
            self.w["single_blocks.0.norm.query_norm.scale"].shape[0]
        self.heads = hidden // self.head_dim
        self.hidden = hidden
        self.depth = len({k.split(".")[1] for k in self.w if k.startswith("double_blocks.")})
        self.depth_single = len({k.split(".")[1] for k in self.w if k.startswith("single_blocks.")})
        self.guidance_embed = "guidance_in.in_layer.weight" in self.w
        self.mlp_hidden = (self.w["double_blocks.0.img_mlp.0.weight"].shape[0] if self.depth else
                           self.w["single_blocks.0.linear1.weight"].shape[0] - 3 * hidden)

    def lin(self, name, x):
        b = self.w.get(name + ".bias")
        return F.linear(x, self.w[name + ".weight"], b)

    def mlp_embed(self, name, x):
        return self.lin(name + ".out_layer", F.silu(self.lin(name + ".in_layer", x)))

    def rms_norm(self, name, x):
        x_dtype = x.dtype
        xf = x.float()
        rrms = torch.rsqrt(torch.mean(xf ** 2, dim=-1, keepdim=True) + 1e-6)
        return (xf * rrms).to(dtype=x_dtype) * self.w[name + ".scale"]

    def qk_norm(self, name, q, k, v):
        return self.rms_norm(name + ".query_norm", q).to(v), self.rms_norm(name + ".key_norm", k).to(v)

    def modulation(self, name, vec, n):
        out = self.lin(name + ".lin", F.silu(vec))[:, None, :].chunk(n, dim=-1)
        return out

    @staticmethod
    def modulate(x, shift, scale):
        return (1 + scale) * F.layer_norm(x, (x.shape[-1],), eps=1e-6) + shift

    def split_heads(self, qkv):
        B, L, _ = qkv.shape
        t = qkv.reshape(B, L, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)  # K B H L D
        return t[0], t[1], t[2]

    def attention(self, q, k, v, pe):
        q, k = apply_rope(q, k, pe)
        x = sdpa(q, k, v)
        B, H, L, D = x.shape
        return x.permute(0, 2, 1, 3).reshape(B, L, H * D)

    def double_block(self, i, img, txt, vec, pe):
        p = f"double_blocks.{i}."
        im = self.modulation(p + "img_mod", vec, 6)
        tm = self.modulation(p + "txt_mod", vec, 6)
        img_q, img_k, img_v = self.split_heads(self.lin(p + "img_attn.qkv", self.modulate(img, im[0], im[1])))
        img_q, img_k = self.qk_norm(p + "img_attn.norm", img_q, img_k, img_v)
        txt_q, txt_k, txt_v = self.split_heads(self.lin(p + "txt_attn.qkv", self.modulate(txt, tm[0], tm[1])))
        txt_q, txt_k = self.qk_norm(p + "txt_attn.norm", txt_q, txt_k, txt_v)
        q = torch.cat((txt_q, img_q), dim=2)
        k = torch.cat((txt_k, img_k), dim=2)
        v = torch.cat((txt_v, img_v), dim=2)
        attn = self.attention(q, k, v, pe)
        L_txt = txt.shape[1]
        txt_a, img_a = attn[:, :L_txt], attn[:, L_txt:]
        img = img + im[2] * self.lin(p + "img_attn.proj", img_a)
        img = img + im[5] * self.lin(p + "img_mlp.2", F.gelu(self.lin(p + "img_mlp.0",
                                                                      self.modulate(img, im[3], im[4])),
                                                             approximate="tanh"))
        txt = txt + tm[2] * self.lin(p + "txt_attn.proj", txt_a)
        txt = txt + tm[5] * self.lin(p + "txt_mlp.2", F.gelu(self.lin(p + "txt_mlp.0",
                                                                      self.modulate(txt, tm[3], tm[4])),
                                                             approximate="tanh"))
        return img, txt

    def single_block(self, i, x, vec, pe):
        p = f"single_blocks.{i}."
        shift, scale, gate = self.modulation(p + "modulation", vec, 3)
        h = self.lin(p + "linear1", self.modulate(x, shift, scale))
        qkv, mlp = torch.split(h, [3 * self.hidden, self.mlp_hidden], dim=-1)
        q, k, v = self.split_heads(qkv)
        q, k = self.qk_norm(p + "norm", q, k, v)
        attn = self.attention(q, k, v, pe)
        out = self.lin(p + "linear2", torch.cat((attn, F.gelu(mlp, approximate="tanh")), 2))
        return x + gate * out

    def final_layer(self, x, vec):
        shift, scale = self.lin("final_layer.adaLN_modulation.1", F.silu(vec)).chunk(2, dim=1)
        x = (1 + scale[:, None, :]) * F.layer_norm(x, (x.shape[-1],), eps=1e-6) + shift[:, None, :]
        return self.lin("final_layer.linear", x)

    def forward(self, img, txt, timesteps, y, guidance, pe):
        dt, dev = self.dtype, self.device
        img = self.lin("img_in", img.to(dev, dt))
        vec = self.mlp_embed("time_in", timestep_embedding(timesteps.to(dev)).to(dt))
        if self.guidance_embed:
            vec = vec + self.mlp_embed("guidance_in", timestep_embedding(guidance.to(dev)).to(dt))
        vec = vec + self.mlp_embed("vector_in", y.to(dev, dt))
        txt = self.lin("txt_in", txt.to(dev, dt))
        pe = pe.to(dev, torch.float32)
        for i in range(self.depth):
            img, txt = self.double_block(i, img, txt, vec, pe)
        x = torch.cat((txt, img), 1)
        for i in range(self.depth_single):
            x = self.single_block(i, x, vec, pe)
        x = x[:, txt.shape[1]:, ...]
        return self.final_layer(x, vec)


def apply_rope(xq, xk, freqs_cis):
    xq_ = xq.float().reshape(*xq.shape[:-1], -1, 1, 2)
    xk_ = xk.float().reshape(*xk.shape[:-1], -1, 1, 2)
    xq_out = freqs_cis[..., 0] * xq_[..., 0] + freqs_cis[..., 1] * xq_[..., 1]
    xk_out = freqs_cis[..., 0] * xk_[..., 0] + freqs_cis[..., 1] * xk_[..., 1]
    return xq_out.reshape(*xq.shape).type_as(xq), xk_out.reshape(*xk.shape).type_as(xk)


MAX_SCORE_BYTES = 256 << 20


def sdpa(q, k, v):
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v)
    # PyTorch < 2.0: the same math over chunks of queries (see the module docstring).
    B, H, Lq, D = q.shape
    Lk = k.shape[2]
    low = q.dtype in (torch.float16, torch.bfloat16)
    rows = max(1, min(Lq, MAX_SCORE_BYTES // max(1, B * H * Lk * 4 * (3 if low else 2))))
    scale = 1.0 / math.sqrt(D)
    kt = k.transpose(-2, -1)
    out = torch.empty(B, H, Lq, v.shape[3], dtype=q.dtype, device=q.device)
    for s in range(0, Lq, rows):
        scores = torch.matmul(q[:, :, s:s + rows], kt)
        scores.mul_(scale)
        p = torch.softmax(scores, -1, dtype=torch.float32).to(q.dtype) if low else torch.softmax(scores, -1)
        del scores
        out[:, :, s:s + rows] = torch.matmul(p, v)
    return out


# ----------------------------------------------------------------------------------------------------------------
# Helpers


def rel_l2(a, e):
    a, e = a.double().cpu(), e.double().cpu()
    return float((a - e).norm() / e.norm())


def max_rel(a, e):
    """max |a - e| / max |e| (the table's "max rel diff")."""
    a, e = a.double().cpu(), e.double().cpu()
    return float((a - e).abs().max() / e.abs().max())


def peak_rss_gib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB (Linux)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_forward(fn, device, warmup, iters, cpu_times=None):
    """Wall-clock ms per call; `cpu_times`, when a list, receives the process CPU time per call (all threads, user
    + system: on a shared machine it does not depend on how much of a core the scheduler gave us)."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(iters):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
        if cpu_times is not None:
            cpu_times.append((time.process_time() - c0) * 1e3)
    return times


def parse_dtype(s):
    return {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}[s]


def random_weights(hidden, heads, depth, depth_single, mlp_hidden, device, dtype, in_ch=64, ctx=4096, vec=768,
                   seed=0):
    """Random dev-shaped weights (normal(0, 1/sqrt(fan_in)) matrices, zero biases, unit norm scales): the
    distribution of io::RandomWeights, for timing runs too large to share one weight file."""
    g = torch.Generator(device=device).manual_seed(seed)
    w = {}

    def lin(name, i, o, bias=True):
        w[name + ".weight"] = torch.randn(o, i, generator=g, device=device, dtype=torch.float32).mul_(
            1 / math.sqrt(i)).to(dtype)
        if bias:
            w[name + ".bias"] = torch.zeros(o, device=device, dtype=dtype)

    def norm(name, d):
        w[name + ".query_norm.scale"] = torch.ones(d, device=device, dtype=dtype)
        w[name + ".key_norm.scale"] = torch.ones(d, device=device, dtype=dtype)

    hd = hidden // heads
    lin("img_in", in_ch, hidden)
    lin("txt_in", ctx, hidden)
    for e, i in (("time_in", 256), ("guidance_in", 256), ("vector_in", vec)):
        lin(e + ".in_layer", i, hidden)
        lin(e + ".out_layer", hidden, hidden)
    for b in range(depth):
        for s in ("img", "txt"):
            p = f"double_blocks.{b}.{s}_"
            lin(p + "mod.lin", hidden, 6 * hidden)
            lin(p + "attn.qkv", hidden, 3 * hidden)
            norm(p + "attn.norm", hd)
            lin(p + "attn.proj", hidden, hidden)
            lin(p + "mlp.0", hidden, mlp_hidden)
            lin(p + "mlp.2", mlp_hidden, hidden)
    for b in range(depth_single):
        p = f"single_blocks.{b}."
        lin(p + "linear1", hidden, 3 * hidden + mlp_hidden)
        lin(p + "linear2", hidden + mlp_hidden, hidden)
        norm(p + "norm", hd)
        lin(p + "modulation.lin", hidden, 3 * hidden)
    lin("final_layer.adaLN_modulation.1", hidden, 2 * hidden)
    lin("final_layer.linear", hidden, in_ch)
    return w


def flops_per_forward(model, L_img, L_txt):
    """2·params·tokens for the token-wise linears + 4·L²·d per attention layer (d = hidden)."""
    C, M, L = model.hidden, model.mlp_hidden, L_img + L_txt
    lin = 2 * (4 * C * C + 2 * C * M) * L * model.depth  # per stream: qkv, proj, mlp; each token in its stream
    lin += 2 * ((3 * C + M) * C + (C + M) * C) * L * model.depth_single  # linear1, linear2
    in_ch, ctx = model.w["img_in.weight"].shape[1], model.w["txt_in.weight"].shape[1]
    out_ch = model.w["final_layer.linear.weight"].shape[0]
    lin += 2 * (in_ch * C * L_img + ctx * C * L_txt + C * out_ch * L_img)  # img_in, txt_in, final linear
    att = 4 * L * L * C * (model.depth + model.depth_single)
    return lin + att


# ----------------------------------------------------------------------------------------------------------------
# Commands


def cmd_check_golden(a):
    cases = a.cases.split(",") if a.cases else sorted(
        c for c in os.listdir(os.path.join(a.golden, "cases")) if c.startswith("B_transformer_"))
    worst = 0.0
    ok = True
    for c in cases:
        d = os.path.join(a.golden, "cases", c)
        meta = json.load(open(os.path.join(d, "case.json")))
        model_file = "flux_f8_e4m3.safetensors" if "f8" in c else "flux.safetensors"
        w = load_safetensors(os.path.join(a.golden, meta["model"], "comfy", model_file))
        inp = load_safetensors(os.path.join(d, "inputs.safetensors"))
        exp = load_safetensors(os.path.join(d, "expected.safetensors"), names={"out", "pe"})
        model = Flux(w)
        with torch.inference_mode():
            out = model.forward(inp["img"], inp["txt"], inp["timesteps"], inp["y"], inp["guidance"], exp["pe"])
        r = rel_l2(out, exp["out"])
        tol = meta["tolerance"]["out"]["rel_l2"]
        worst = max(worst, r)
        ok &= r <= tol
        print(f"{c:48s} rel_l2 {r:.3e}  (tolerance {tol:g}) {'ok' if r <= tol else 'FAIL'}")
    print(f"golden check of the PyTorch baseline: {'PASS' if ok else 'FAIL'} (worst rel_l2 {worst:.3e})")
    return 0 if ok else 1


def cmd_compare(a):
    device = torch.device(a.device)
    dtype = parse_dtype(a.dtype)
    if a.threads:
        torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    io_ = load_safetensors(a.io)
    model = Flux(load_safetensors(a.weights), dtype=dtype, device=device)
    load_s = time.perf_counter() - t0
    L_img, L_txt = io_["img"].shape[1], io_["txt"].shape[1]
    args = (io_["img"], io_["txt"], io_["timesteps"], io_["y"], io_["guidance"], io_["pe"])
    with torch.inference_mode():
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        out = model.forward(*args)
        sync(device)
        res = {"tokens": L_img + L_txt, "img_tokens": L_img, "txt_tokens": L_txt, "device": a.device,
               "dtype": a.dtype, "threads": torch.get_num_threads(), "torch": torch.__version__,
               "double": model.depth, "single": model.depth_single, "load_s": load_s}
        if "out" in io_:
            res["max_rel_diff"] = max_rel(out, io_["out"])
            res["rel_l2"] = rel_l2(out, io_["out"])
        del out
        cpu = []
        times = time_forward(lambda: model.forward(*args), device, a.warmup, a.iters, cpu) if a.iters > 0 else []
    res["ms"] = sorted(times)[len(times) // 2] if times else None
    res["ms_min"] = min(times) if times else None
    res["ms_all"] = times
    res["cpu_ms"] = sorted(cpu)[len(cpu) // 2] if cpu else None
    res["cpu_ms_min"] = min(cpu) if cpu else None
    res["cpu_ms_all"] = cpu
    res["peak_rss_gib"] = peak_rss_gib()
    if device.type == "cuda":
        res["peak_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    res["gflop"] = flops_per_forward(model, L_img, L_txt) / 1e9
    line = json.dumps(res)
    print("PYTORCH " + line)
    if a.json:
        with open(a.json, "a") as f:
            f.write(line + "\n")
    return 0


def cmd_time_random(a):
    device = torch.device(a.device)
    dtype = parse_dtype(a.dtype)
    hidden, heads, mlp = 3072, 24, 12288
    torch.manual_seed(a.seed)
    with torch.inference_mode():
        w = random_weights(hidden, heads, a.double, a.single, mlp, device, dtype, seed=a.seed)
        model = Flux(w, dtype=dtype, device=device)
        del w
        L_img, L_txt = a.tokens, a.txt
        g = torch.Generator(device=device).manual_seed(a.seed + 1)
        img = torch.randn(1, L_img, 64, generator=g, device=device)
        txt = torch.randn(1, L_txt, 4096, generator=g, device=device)
        y = torch.randn(1, 768, generator=g, device=device)
        ts = torch.full((1,), 0.7, device=device)
        gd = torch.full((1,), 3.5, device=device)
        # Plain-RoPE-shaped table (the values do not change the work): rotation blocks of random angles.
        ang = torch.rand(1, 1, L_img + L_txt, hidden // heads // 2, generator=g, device=device) * 6.28
        pe = torch.stack([torch.cos(ang), -torch.sin(ang), torch.sin(ang), torch.cos(ang)], -1).reshape(
            1, 1, L_img + L_txt, hidden // heads // 2, 2, 2)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        times = time_forward(lambda: model.forward(img, txt, ts, y, gd, pe), device, a.warmup, a.iters)
    res = {"tokens": L_img + L_txt, "img_tokens": L_img, "txt_tokens": L_txt, "device": a.device, "dtype": a.dtype,
           "double": a.double, "single": a.single, "torch": torch.__version__,
           "ms": sorted(times)[len(times) // 2], "ms_min": min(times), "ms_all": times,
           "gflop": flops_per_forward(model, L_img, L_txt) / 1e9, "peak_rss_gib": peak_rss_gib()}
    if device.type == "cuda":
        res["peak_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    line = json.dumps(res)
    print("PYTORCH " + line)
    if a.json:
        with open(a.json, "a") as f:
            f.write(line + "\n")
    return 0


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("check-golden", help="run the golden transformer cases through this baseline")
    g.add_argument("--golden", required=True)
    g.add_argument("--cases", default="")
    c = sub.add_parser("compare", help="check against our output, then time the same forward")
    c.add_argument("--weights", required=True)
    c.add_argument("--io", required=True)
    for q in (c, sub.add_parser("time-random", help="time a random dev-shaped model (no comparison)")):
        q.add_argument("--device", default="cpu")
        q.add_argument("--dtype", default="f32", choices=["f32", "bf16", "f16"])
        q.add_argument("--warmup", type=int, default=1)
        q.add_argument("--iters", type=int, default=3)
        q.add_argument("--threads", type=int, default=0)
        q.add_argument("--json", default="")
    r = sub.choices["time-random"]
    r.add_argument("--double", type=int, required=True)
    r.add_argument("--single", type=int, required=True)
    r.add_argument("--tokens", type=int, required=True, help="image tokens")
    r.add_argument("--txt", type=int, default=512)
    r.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    if getattr(a, "threads", 0):
        torch.set_num_threads(a.threads)
    return {"check-golden": cmd_check_golden, "compare": cmd_compare, "time-random": cmd_time_random}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
